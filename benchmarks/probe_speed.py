"""Where a linear probe's time goes: each fit of the C grid and the final refit.

The probe (`keras_cpc.evaluation.linear_probe`, as `keras_cpc.evaluation.probe_preset` runs
it) fits a logistic regression per ``C`` on 80% of the training rows, keeps the ``C`` with the
best validation accuracy and refits on all of them. On wide raw inputs such as CIFAR-10's 3072
pixels the weakly regularised fits dominate; this prints how much. Features are the raw
pixels of an image class-folder tree (the probe's slowest baseline), or of scikit-learn's
``load_digits`` when no folder is given. Example::

    python benchmarks/probe_speed.py --data ~/data/cifar10/train --limit 20000
"""

import argparse
import time

import numpy as np

from keras_cpc.data import ImageFolder, load_digits_images
from keras_cpc.evaluation import DEFAULT_C_VALUES, linear_probe


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="image class folders (default: digits)")
    parser.add_argument("--limit", type=int, default=20000, help="probe training images")
    parser.add_argument("--test", type=int, default=2000, help="held-out images scored")
    parser.add_argument("--patience", type=int, default=2, help="as in linear_probe")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.data is None:
        images, labels, _ = load_digits_images(8)
    else:
        source = ImageFolder(args.data, image_size=(32, 32))
        rows = np.random.default_rng(args.seed).permutation(len(source.labels))
        rows = rows[: args.limit + args.test]
        images, labels = source.take(rows), source.labels[rows]
    pixels = images.reshape(len(images), -1).astype("float32")
    n = min(args.limit, len(pixels) - args.test) if args.data else int(0.7 * len(pixels))
    started = time.perf_counter()
    result = linear_probe(
        pixels[:n],
        labels[:n],
        pixels[n:],
        labels[n:],
        c_values=DEFAULT_C_VALUES,
        seed=args.seed,
        patience=args.patience,
    )
    total = time.perf_counter() - started
    print(f"raw pixels: {n} x {pixels.shape[1]} training features, {len(pixels) - n} scored")
    for c, seconds in result.fit_seconds_by_c.items():
        accuracy = 100 * result.val_accuracy_by_c[c]
        print(f"  fit C={c:<8g} {seconds:7.1f} s  validation {accuracy:.1f}%")
    print(f"  refit C={result.best_c:<6g} {result.refit_seconds:7.1f} s  (all {n} rows)")
    print(f"total {total:.1f} s; held-out accuracy {100 * result.test_accuracy:.1f}%")


if __name__ == "__main__":
    main()
