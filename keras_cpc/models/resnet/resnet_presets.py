"""Shipped ResNetBackbone presets (name -> metadata), keras-hub style.

Each entry: ``{"metadata": {"description", "params", "path"}}``, registered below for
``keras_cpc>ResNetBackbone`` (the registry is filled from here, as in keras-hub). The files
live in the top-level ``presets/<name>/`` folder (shipped inside the wheel). Each model card
(``presets/<name>/README.md``) gives the command, data, wall time and probe results.

Plain dicts that import only ``keras_cpc.presets``: `keras_cpc.register_shipped_presets` runs
this file on its own (without ``keras_cpc.models``, so without keras) for ``keras-cpc
presets``; importing anything heavier here would load a backend for every listing.
"""

from keras_cpc.presets import register_presets

backbone_presets = {
    "simclr_resnet18_cifar10": {
        "metadata": {
            "description": (
                "SimCLR ResNet-18 (CIFAR stem, width 1, 512-d features) pretrained for 192 "
                "epochs on 45,000 CIFAR-10 training images in 4 minutes on one NVIDIA H200 GPU "
                "(bfloat16, SGD recipe); linear probe on the held-out 5,000: 79.2% (random init "
                "41.0%, raw pixels 40.7%)"
            ),
            "params": 11182784,
            "path": "simclr_resnet18_cifar10",
        },
    },
    "simclr_resnet18_cifar10_cpu": {
        "metadata": {
            "description": (
                "SimCLR ResNet-18 (CIFAR stem, width 0.25, 128-d features) pretrained for 22 "
                "epochs on 45,000 CIFAR-10 training images on 2 CPU cores; linear probe on the "
                "held-out 5,000: 61.4% (random init 34.4%, raw pixels 40.7%)"
            ),
            "params": 702896,
            "path": "simclr_resnet18_cifar10_cpu",
        },
    },
}


# Remote presets: the official SimCLR ImageNet checkpoints (TF1), downloaded from Google Cloud
# Storage's public HTTPS endpoint and converted on first use (keras_cpc.presets.remote). The
# checkpoints publish no hashes: each file's sha256 is recorded on first download.
_SIMCLR_BASE_URL = "https://storage.googleapis.com/simclr-checkpoints/"
_SIMCLR_CONVERTER = "keras_cpc.models.resnet.convert_simclr:convert_simclr_checkpoint"
_SIMCLR_LICENCE = (
    "Apache-2.0 (google-research/simclr; no separate licence statement for the weights found)"
)
_SIMCLR_SOURCE = (
    "google-research/simclr tf2/colabs/imagenet_results.ipynb (the authors' re-evaluation of "
    "the released checkpoints, ImageNet linear evaluation top-1)"
)
# ImageNet linear evaluation top-1 (%) of the released SimCLR v2 pretrained checkpoints.
_SIMCLR_V2_TOP1 = {
    "r50_1x_sk0": 71.7,
    "r50_1x_sk1": 74.6,
    "r50_2x_sk0": 75.4,
    "r50_2x_sk1": 77.8,
    "r101_1x_sk0": 73.7,
    "r101_1x_sk1": 76.3,
    "r101_2x_sk0": 77.0,
    "r101_2x_sk1": 79.1,
    "r152_1x_sk0": 74.6,
    "r152_1x_sk1": 77.3,
    "r152_2x_sk0": 77.4,
    "r152_2x_sk1": 79.3,
    "r152_3x_sk1": 79.9,
}
_SIMCLR_V1_TOP1 = {"1x": 69.0, "2x": 74.2, "4x": 76.6}
# Backbone parameters (ResNetBackbone.count_params(), batch-norm statistics included; the
# projection head is not counted), computed by building each architecture.
_RESNET_PARAMS = {
    "r50_1x_sk0": 23561152,
    "r50_1x_sk1": 35277408,
    "r50_2x_sk0": 94013312,
    "r50_2x_sk1": 140428864,
    "r101_1x_sk0": 42605504,
    "r101_1x_sk1": 64786144,
    "r101_2x_sk0": 169981824,
    "r101_2x_sk1": 257377984,
    "r152_1x_sk0": 58295232,
    "r152_1x_sk1": 89119584,
    "r152_2x_sk0": 232556416,
    "r152_2x_sk1": 353752896,
    "r152_3x_sk1": 795235360,
    "r50_4x_sk0": 375590656,
}


def _simclr_remote(name, folder, step, description, top1, include_head, params):
    prefix = f"{folder}/model.ckpt-{step}"
    files = ["checkpoint", f"model.ckpt-{step}.index", f"model.ckpt-{step}.data-00000-of-00001"]
    return {
        "metadata": {
            "description": f"{description}; ImageNet linear eval {top1}% top-1 (published)",
            "params": params,
            "path": name,
            "remote": {
                "base_url": _SIMCLR_BASE_URL,
                "files": [{"path": f"{folder}/{name}"} for name in files],
                "source": prefix,
                "converter": _SIMCLR_CONVERTER,
                "converter_options": {"include_head": include_head},
                "licence": _SIMCLR_LICENCE,
                "published": {
                    "imagenet_linear_eval_top1": top1,
                    "source": _SIMCLR_SOURCE,
                },
            },
        },
    }


for _model, _top1 in _SIMCLR_V2_TOP1.items():
    _depth, _width, _sk = _model.split("_")
    _name = f"simclr_v2_{_model}_imagenet"
    backbone_presets[_name] = _simclr_remote(
        _name,
        f"simclrv2/pretrained/{_model}",
        250228,
        f"SimCLR v2 ResNet-{_depth[1:]} {_width}"
        + (" with selective kernels" if _sk == "sk1" else "")
        + ", official ImageNet checkpoint with its 3-layer projection head",
        _top1,
        include_head=True,
        params=_RESNET_PARAMS[_model],
    )
for _width, _top1 in _SIMCLR_V1_TOP1.items():
    _name = f"simclr_v1_r50_{_width}_imagenet"
    backbone_presets[_name] = _simclr_remote(
        _name,
        f"simclrv1/pretrain/{_width}",
        225206,
        f"SimCLR v1 ResNet-50 {_width}, official ImageNet checkpoint, no projection head "
        "(not released)",
        _top1,
        include_head=False,
        params=_RESNET_PARAMS[f"r50_{_width}_sk0"],
    )

register_presets(backbone_presets, "keras_cpc>ResNetBackbone")
