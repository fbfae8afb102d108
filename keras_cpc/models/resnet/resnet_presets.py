"""Shipped ResNetBackbone presets (name -> metadata), keras-hub style.

Each entry: ``{"metadata": {"description", "params", "path"}, "class_name"}``; the files live in
the top-level ``presets/<name>/`` folder (shipped inside the wheel). Each preset's model card
(``presets/<name>/README.md``) gives the command, data, wall time and probe results.
"""

backbone_presets = {
    "simclr_resnet18_cifar10_cpu": {
        "metadata": {
            "description": (
                "SimCLR ResNet-18 (CIFAR stem, width 0.25, 128-d features) pretrained for 18 "
                "epochs on 45,000 CIFAR-10 training images on 2 CPU cores; linear probe on the "
                "held-out 5,000: 54.9% (random init 34.4%, raw pixels 40.6%)"
            ),
            "params": 702896,
            "path": "simclr_resnet18_cifar10_cpu",
        },
        "class_name": "keras_cpc>ResNetBackbone",
    },
}
