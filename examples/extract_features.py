"""Pooled features of image or audio files with a preset, saved as a .npy (thin wrapper).

Same as the ``keras-cpc extract`` command (it calls the same code,
`keras_cpc.cli.extract_features`): images (png/jpg) at any size a preset accepts, audio
(wav/flac/ogg) at any rate (resampled to the preset's rate). The file order is written next to
the features as ``<output>.files.txt``.

Examples:
    python examples/extract_features.py simclr_resnet18_cifar10_cpu ~/data/cifar10/train/cat \\
        --output cat_features.npy
    keras-cpc extract cpc_gru_fsdd_8khz ~/data/fsdd/recordings --output fsdd_features.npy
"""

import sys

from keras_cpc.cli import main

if __name__ == "__main__":
    sys.exit(main(["extract", *sys.argv[1:]]))
