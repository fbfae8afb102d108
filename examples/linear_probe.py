"""Linear probe of a preset next to two baselines computed in the same run.

Extracts frozen pooled features with the preset, with the same architecture at random
initialisation, and takes the raw input (pixels for images; MFCC mean+std for audio), then fits
a logistic-regression probe (C chosen on a validation split of the probe's training part, never
on the test part) on each and reports test accuracy side by side. Prints a table, writes
``results.json`` (every number) and ``probe.png`` (accuracy bars and a 2-D PCA projection of the
preset's test features coloured by class) into ``--output-dir``. All of it is one library call,
`keras_cpc.evaluation.probe_preset`; this script only reads the command line.

With no arguments it is the project's main job: the first shipped image preset on
scikit-learn's handwritten digits (1797 real 8x8 images that ship with scikit-learn, upsampled
to 32x32 RGB), a seeded stratified 30% test split. No network, no files needed.

Datasets (``--data``):
    digits                  scikit-learn's load_digits (default for image presets)
    PATH (class folders)    image tree ``PATH/<class>/*.jpg``; the test part is the same
                            stratified hold-out that pretrain_simclr.py leaves out
    PATH (FSDD layout)      ``{digit}_{speaker}_{index}.wav`` clips (default for audio presets:
                            ~/data/fsdd/recordings). Protocols: digit and speaker ID with
                            index 0-4 as test when present (official split), else index 5-9
                            held out (a validation split carved from train that mirrors it);
                            and speaker-disjoint digit ID (leave one speaker out, mean of folds)
    tfds:NAME               a TFDS dataset already prepared locally (never downloads)

Examples:
    python examples/linear_probe.py
    python examples/linear_probe.py simclr_resnet18_cifar10_cpu --data ~/data/cifar10/train
    python examples/linear_probe.py cpc_gru_fsdd_8khz --data ~/data/fsdd/recordings
"""

import argparse
from pathlib import Path

from keras_cpc import training
from keras_cpc.evaluation import format_table, probe_options, probe_preset
from keras_cpc.training.records import exact_command


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("preset", nargs="?", help="preset name or directory (default: shipped)")
    parser.add_argument("--data", help="digits | image folder | FSDD folder | tfds:NAME")
    parser.add_argument("--image-size", type=int, help="resize images (default: preset's size)")
    parser.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.1,
        help="image folders: stratified test share (as in pretraining)",
    )
    parser.add_argument("--digits-test-fraction", type=float, default=0.3)
    parser.add_argument(
        "--heldout-indices",
        default="5-9",
        help="FSDD: clip indices used as test when index 0-4 is absent",
    )
    parser.add_argument("--no-loso", action="store_true", help="FSDD: skip leave-one-speaker-out")
    parser.add_argument("--limit", type=int, help="use at most this many examples (smoke runs)")
    parser.add_argument(
        "--train-limit", type=int, help="fit the probes on at most this many training examples"
    )
    parser.add_argument("--c-values", default="0.001,0.01,0.1,1,10,100")
    parser.add_argument(
        "--patience",
        default="2",
        help="stop the C grid after this many drops in validation accuracy ('none': full grid)",
    )
    parser.add_argument("--batch-size", type=int, help="default: the backend's")
    training.add_dtype_policy_flag(parser)
    training.add_threads_flag(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--projection", default="pca", choices=("pca", "tsne"))
    parser.add_argument("--output-dir", default="probe_results")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (by default: feature batches, then one tick per probe, i.e. "
        "per task x feature column x fold, with the C being fitted)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    training.prepare_process(args.threads)  # threads and heap, before the backbones exist
    command = exact_command(__file__, argv)
    results = probe_preset(args.preset, args.data, **probe_options(args), command=command)
    summary = results["summary"]
    print(f"\nLinear probe of {summary['preset']} on {summary['data']} ({summary['split']})")
    print(format_table(summary))
    output = Path(args.output_dir)
    print(f"\nWrote {output / 'results.json'} and {output / 'probe.png'}")
    return results


if __name__ == "__main__":
    main()
