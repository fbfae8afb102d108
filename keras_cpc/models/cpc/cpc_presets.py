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

register_presets(backbone_presets, "keras_cpc>CPCBackbone")
