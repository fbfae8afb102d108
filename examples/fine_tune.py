"""Fine-tune a SimCLR preset on 10% of the labels, against the same network from scratch.

Both runs use `keras_cpc.models.ImageClassifier` with the same architecture, the same
labelled subset (``--label-fraction`` of each class of the training part, seeded), the same
augmentation (random crop with 4-pixel padding + horizontal flip), optimiser (AdamW, warmup +
cosine) and number of steps; one starts from the preset's weights, the other from random ones.
Both are scored on the held-out split that pretrain_simclr.py leaves out (``--holdout-fraction``
of each class, same seed), never on the withheld test set.

Examples:
    python examples/fine_tune.py simclr_resnet18_cifar10_cpu --data ~/data/cifar10/train
    python examples/fine_tune.py PRESET_DIR --limit 600 --epochs 1   # smoke run
"""

import argparse

import keras

from keras_cpc import data, optimizers, training
from keras_cpc.models import ImageClassifier, ResNetBackbone


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # --help shows the defaults
    )
    add = parser.add_argument
    add("preset", help="image preset name or directory")
    add("--data", default="~/data/cifar10/train", help="class-per-folder image tree or tfds:NAME")
    add("--label-fraction", type=float, default=0.1)
    add("--holdout-fraction", type=float, default=0.1)
    add("--limit", type=int, help="use at most this many labelled + held-out images")
    add("--epochs", type=int, default=30)
    add("--batch-size", type=int, default=128)
    add("--learning-rate", type=float, default=1e-3)
    add("--weight-decay", type=float, default=5e-4)
    add("--seed", type=int, default=0)
    add("--run-eagerly", action="store_true", help="no compiled step (debugging, tiny runs)")
    add("--output", default="fine_tune_results.json")
    add("--verbose", type=int, default=2)
    training.add_dtype_policy_flag(parser)
    training.add_threads_flag(parser)
    return parser


def train_and_score(classifier, batches, x_val, y_val, args):
    """Fit with AdamW (5% warmup, then cosine) and return (held-out accuracy, seconds)."""
    steps = len(batches) * args.epochs
    schedule = optimizers.WarmupCosineDecay(args.learning_rate, max(steps // 20, 1), steps)
    optimizer = optimizers.make_optimizer("adamw", schedule, args.weight_decay)
    classifier.compile(optimizer=optimizer, run_eagerly=args.run_eagerly)
    # The batches' order and crops are a function of (seed, epoch): both runs see the same.
    run = training.fit_resumable(classifier, batches, args.epochs, verbose=args.verbose)
    _, accuracy = classifier.evaluate(x_val, y_val, batch_size=256, verbose=0)
    return float(accuracy), run["wall_time_s_this_process"]


def main(argv=None):
    args = build_parser().parse_args(argv)
    training.prepare_process(args.threads)  # threads and heap, before any model exists
    keras.utils.set_random_seed(args.seed)
    preset_backbone = ResNetBackbone.from_preset(args.preset, load_weights=False)
    size = preset_backbone.get_config()["image_shape"][0] or 32
    source = data.ImageFolder(args.data, image_size=size)
    train, holdout = data.stratified_holdout(source.labels, args.holdout_fraction, args.seed)
    # The labelled subset: label_fraction of each class of the training part.
    _, labelled = data.stratified_holdout(source.labels[train], args.label_fraction, args.seed)
    labelled = train[labelled]
    if args.limit:
        labelled = data.subset(labelled, args.limit // 2, args.seed)
        holdout = data.subset(holdout, args.limit - len(labelled), args.seed)
    x_train, y_train = source.take(labelled), source.labels[labelled].astype("int32")
    x_val, y_val = source.take(holdout), source.labels[holdout].astype("int32")
    print(f"{len(x_train)} labelled training images, {len(x_val)} held-out images", flush=True)

    results = {}
    for name, load_weights in (("fine-tuned from preset", True), ("from scratch", False)):
        keras.utils.set_random_seed(args.seed)
        with training.dtype_policy_scope(args.dtype_policy):  # weights stay float32
            classifier = ImageClassifier.from_preset(
                args.preset, num_classes=len(source.classes), load_weights=load_weights
            )
        batches = data.ImageBatches(
            x_train, y_train, args.batch_size, seed=args.seed, augment="crop_flip"
        )
        accuracy, seconds = train_and_score(classifier, batches, x_val, y_val, args)
        results[name] = {"val_accuracy": accuracy, "train_seconds": seconds}
        print(f"{name}: held-out accuracy {100 * accuracy:.1f}% ({seconds} s)", flush=True)

    summary = {
        "preset": training.relative_to_data_root([args.preset])[0],  # no machine path
        "data": training.relative_to_data_root([args.data])[0],
        "labelled_examples": len(x_train),
        "split": (
            f"labelled: {args.label_fraction:g} of each class of the training part; scored on "
            f"the stratified {args.holdout_fraction:g} held-out split (seed {args.seed})"
        ),
        "held_out_examples": len(x_val),
        "epochs": args.epochs,
        "dtype_policy": args.dtype_policy,
        "results": results,
        "backend": keras.backend.backend(),
        "command": training.exact_command(__file__, argv),
    }
    training.write_json(args.output, summary)
    print()
    for name, row in results.items():
        print(f"{name:24s} {100 * row['val_accuracy']:6.1f}%")
    print(f"Wrote {args.output}")
    return summary


if __name__ == "__main__":
    main()
