"""Pooled features of image or audio files with a preset, saved as a .npy.

What the ``keras-cpc extract`` command does, written out: images (png/jpg) at any size a preset
accepts, audio (wav/flac/ogg) at any rate (resampled to the preset's rate). Unreadable files
are skipped with a warning naming each; the order of the files kept is written next to the
features as ``<output>.files.txt``.

``--dtype-policy mixed_bfloat16`` computes in bfloat16 (the features are saved as float32);
``--threads 1`` suits a machine busy with other work.

Examples:
    python examples/extract_features.py simclr_resnet18_cifar10_cpu ~/data/cifar10/train/cat \\
        --output cat_features.npy
    keras-cpc extract cpc_gru_fsdd_8khz ~/data/fsdd/recordings --output fsdd_features.npy
"""

import argparse
from pathlib import Path

import numpy as np

from keras_cpc import training
from keras_cpc.data import collect_files
from keras_cpc.evaluation import file_features, input_suffixes
from keras_cpc.models import Backbone


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help="preset name or directory")
    parser.add_argument("inputs", nargs="+", help="files or folders (searched recursively)")
    parser.add_argument("--output", required=True, help="where to write the (n, dim) .npy")
    parser.add_argument("--batch-size", type=int, help="default: the backend's")
    training.add_dtype_policy_flag(parser)
    training.add_threads_flag(parser)
    args = parser.parse_args(argv)
    training.prepare_process(args.threads)  # threads and heap, before the model exists

    with training.dtype_policy_scope(args.dtype_policy):  # weights stay float32
        backbone = Backbone.from_preset(args.preset)
    files = collect_files(args.inputs, input_suffixes(backbone))  # images or audio
    features, kept = file_features(backbone, files, args.batch_size)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, features)
    output.with_suffix(".files.txt").write_text("".join(f"{f}\n" for f in kept))
    print(f"Wrote {features.dtype} features {features.shape} of {len(kept)} files to {output}.")
    return features


if __name__ == "__main__":
    main()
