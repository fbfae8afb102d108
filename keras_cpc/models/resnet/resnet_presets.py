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
    "simclr_resnet18_cifar10_gpu": {
        "metadata": {
            "description": (
                "SimCLR ResNet-18 (CIFAR stem, width 1, 512-d features) pretrained for 60 "
                "epochs on 45,000 CIFAR-10 training images on one NVIDIA H200 GPU; linear probe "
                "on the held-out 5,000: 74.6% (random init 40.8%, raw pixels 40.7%)"
            ),
            "params": 11182784,
            "path": "simclr_resnet18_cifar10_gpu",
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

register_presets(backbone_presets, "keras_cpc>ResNetBackbone")
