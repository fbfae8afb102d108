"""Shipped CPCBackbone presets (name -> metadata), keras-hub style.

Each entry: ``{"metadata": {"description", "params", "path"}}``, registered below for
``keras_cpc>CPCBackbone`` (the registry is filled from here, as in keras-hub). The files
live in the top-level ``presets/<name>/`` folder (shipped inside the wheel). Each model card
(``presets/<name>/README.md``) gives the command, data, wall time and probe results.

Plain dicts that import only ``keras_cpc.presets``: `keras_cpc.register_shipped_presets` runs
this file on its own (without ``keras_cpc.models``, so without keras) for ``keras-cpc
presets``; importing anything heavier here would load a backend for every listing.
"""

from keras_cpc.presets import register_presets

backbone_presets = {
    "cpc_gru_fsdd_8khz": {
        "metadata": {
            "description": (
                "CPC (strided conv encoder, 256 channels, 10 ms frames, GRU context) pretrained "
                "on the Free Spoken Digit Dataset train split (8 kHz); linear probe on held-out "
                "index 5-9: digit 97.7%, speaker 100.0%, leave-one-speaker-out digit 68.3%"
            ),
            "params": 1448960,
            "path": "cpc_gru_fsdd_8khz",
        },
    },
}


# Remote presets: the official CPC_audio encoders trained on Libri-light (facebookresearch), as
# libri-light/eval/CPC_loader.py and CPC_audio's hubconf.py fetch them; downloaded and converted
# on first use (keras_cpc.presets.remote). The 8 hex digits in each file name are checked as the
# start of its sha256 (torch.hub's naming convention); the full digest is recorded on download.
_LIBRILIGHT_BASE_URL = "https://dl.fbaipublicfiles.com/librilight/CPC_checkpoints/"
_CPC_CONVERTER = "keras_cpc.models.cpc.convert_cpc_audio:convert_cpc_audio_checkpoint"
_CPC_LICENCE = (
    "MIT (facebookresearch/CPC_audio code; the checkpoints are served for "
    "facebookresearch/libri-light; no separate licence statement for the weights found)"
)
_SUPERB = {
    "superb_PR_per": 41.66,
    "superb_KS_accuracy": 92.02,
    "superb_IC_accuracy": 65.01,
    "superb_SID_accuracy": 42.29,
    "superb_ER_accuracy": 59.28,
    "superb_ASR_wer": 20.02,
    "source": (
        "SUPERB leaderboard defaults (superbbenchmark/website-react), 'modified CPC', "
        "Libri-light 60k h, frozen upstream"
    ),
}


def _librilight_remote(name, file_name, hours, published):
    summary = (
        "SUPERB: phoneme error 41.7%, keyword spotting 92.0%, speaker ID 42.3% (published)"
        if published
        else "no published downstream numbers found"
    )
    return {
        "metadata": {
            "description": (
                f"CPC_audio 'modified CPC' (256-channel encoder, ChannelNorm, LSTM context, 10 ms "
                f"frames, 16 kHz), official checkpoint trained on Libri-light {hours}; "
                f"{summary}"
            ),
            # CPCBackbone of the default architecture (256/256, LSTM): the release's config is
            # read only after the download.
            "params": 1842432,
            "path": name,
            "remote": {
                "base_url": _LIBRILIGHT_BASE_URL,
                "files": [{"path": file_name, "sha256_prefix": file_name[-11:-3]}],
                "source": file_name,
                "converter": _CPC_CONVERTER,
                "licence": _CPC_LICENCE,
                "published": published,
            },
        },
    }


for _name, _file, _hours, _published in (
    (
        "cpc_audio_librilight_60k",
        "60k_epoch4-d0f474de.pt",
        "60k h (what hubconf.py loads)",
        _SUPERB,
    ),
    ("cpc_audio_librilight_6k", "6k_epoch30-9df0493c.pt", "6k h", None),
    ("cpc_audio_librilight_600h", "600h-bdd7ced6.pt", "600 h", None),
):
    backbone_presets[_name] = _librilight_remote(_name, _file, _hours, _published)

register_presets(backbone_presets, "keras_cpc>CPCBackbone")
