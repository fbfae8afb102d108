"""Fine-tune a SimCLR preset on 10% of the labels, against the same network from scratch.

Both runs use `keras_cpc.models.ImageClassifier` with the same architecture, the same
labelled subset (``--label-fraction`` of each class of the training part, seeded), the same
augmentation (random crop with 4-pixel padding + horizontal flip, in NumPy), optimiser and
number of steps; one starts from the preset's weights, the other from random ones. Both are
scored on the held-out split that pretrain_simclr.py leaves out (``--holdout-fraction`` of
each class, same seed), never on the withheld test set.

Examples:
    python examples/fine_tune.py simclr_resnet18_cifar10_cpu --data ~/data/cifar10/train
    python examples/fine_tune.py PRESET_DIR --limit 600 --epochs 1   # smoke run
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("preset", help="image preset name or directory")
    parser.add_argument(
        "--data", default="~/data/cifar10/train", help="class-per-folder image tree or tfds:NAME"
    )
    parser.add_argument("--label-fraction", type=float, default=0.1)
    parser.add_argument("--holdout-fraction", type=float, default=0.1)
    parser.add_argument("--limit", type=int, help="use at most this many labelled + held-out")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="fine_tune_results.json")
    parser.add_argument("--verbose", type=int, default=2)
    return parser


def AugmentedBatches(images, labels, batch_size, seed):  # noqa: N802 - PyDataset factory
    """Shuffled batches with a random 4-pixel-padded crop and horizontal flip per image."""
    import keras
    import numpy as np

    class _AugmentedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(images))

        def __len__(self):
            return max(len(images) // batch_size, 1)

        def __getitem__(self, index):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            batch = np.pad(images[rows], ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
            height, width = images.shape[1:3]
            out = np.empty((len(rows), height, width, 3), images.dtype)
            for i in range(len(rows)):
                top, left = self.rng.integers(0, 9, size=2)
                crop = batch[i, top : top + height, left : left + width]
                out[i] = crop[:, ::-1] if self.rng.random() < 0.5 else crop
            return out, labels[rows]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(images))

    return _AugmentedBatches()


def train_and_score(classifier, data, x_val, y_val, args, steps):
    import keras

    from keras_cpc.optimizers.warmup_cosine import WarmupCosineDecay

    schedule = WarmupCosineDecay(args.learning_rate, max(steps // 20, 1), steps)
    classifier.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay))
    with common.Timer() as timer:
        classifier.fit(data, epochs=args.epochs, verbose=args.verbose)
    _, accuracy = classifier.evaluate(x_val, y_val, batch_size=256, verbose=0)
    return float(accuracy), round(timer.seconds, 1)


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras

    from keras_cpc.models import ImageClassifier, ResNetBackbone

    keras.utils.set_random_seed(args.seed)
    preset_backbone = ResNetBackbone.from_preset(args.preset, load_weights=False)
    size = preset_backbone.get_config()["image_shape"][0] or 32
    lazy = common.LazyImages(args.data, image_size=(size, size))
    train, holdout = common.stratified_holdout(lazy.labels, args.holdout_fraction, args.seed)
    # The labelled subset: label_fraction of each class of the training part.
    _, labelled = common.stratified_holdout(lazy.labels[train], args.label_fraction, args.seed)
    labelled = train[labelled]
    if args.limit:
        labelled = common.subset(labelled, args.limit // 2, args.seed)
        holdout = common.subset(holdout, args.limit - len(labelled), args.seed)
    x_train, y_train = lazy.take(labelled), lazy.labels[labelled].astype("int32")
    x_val, y_val = lazy.take(holdout), lazy.labels[holdout].astype("int32")
    print(f"{len(x_train)} labelled training images, {len(x_val)} held-out images", flush=True)
    steps = len(x_train) // args.batch_size * args.epochs or args.epochs

    results = {}
    for name, load_weights in (("fine-tuned from preset", True), ("from scratch", False)):
        keras.utils.set_random_seed(args.seed)
        classifier = ImageClassifier.from_preset(
            args.preset, num_classes=len(lazy.classes), load_weights=load_weights
        )
        data = AugmentedBatches(x_train, y_train, args.batch_size, args.seed)
        accuracy, seconds = train_and_score(classifier, data, x_val, y_val, args, steps)
        results[name] = {"val_accuracy": accuracy, "train_seconds": seconds}
        print(f"{name}: held-out accuracy {100 * accuracy:.1f}% ({seconds} s)", flush=True)

    summary = {
        "preset": str(args.preset),
        "data": str(args.data),
        "labelled_examples": int(len(x_train)),
        "split": (
            f"labelled: {args.label_fraction:g} of each class of the training part; scored on "
            f"the stratified {args.holdout_fraction:g} held-out split (seed {args.seed})"
        ),
        "held_out_examples": int(len(x_val)),
        "epochs": args.epochs,
        "results": results,
        "backend": keras.backend.backend(),
        "command": common.exact_command(__file__, argv),
    }
    common.write_json(args.output, summary)
    print()
    for name, row in results.items():
        print(f"{name:24s} {100 * row['val_accuracy']:6.1f}%")
    print(f"Wrote {args.output}")
    return summary


if __name__ == "__main__":
    main()
