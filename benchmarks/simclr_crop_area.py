"""Mean area of SimCLR's random crops: our sampler, the official one, and TF's op itself.

Draws ``--samples`` crops of a ``--size`` x ``--size`` image with each sampler of
`keras_cpc.layers.random_crops` (area range 0.08-1, aspect ratio 3/4-4/3, as the official CIFAR
recipe) and prints the mean crop area (fraction of the image) with quartiles. With
``--tf-reference`` (needs TensorFlow, whatever the backend) it also draws from
``tf.image.sample_distorted_bounding_box`` called exactly as the official SimCLR
``crop_and_resize`` calls it, the reference the ``"official"`` sampler reproduces. Example::

    python benchmarks/simclr_crop_area.py --samples 100000 --tf-reference
"""

import argparse

import keras
import numpy as np

from keras_cpc.layers.random_crops import CROP_SAMPLINGS, sample_crops

AREA_RANGE = (0.08, 1.0)
ASPECT_RANGE = (3.0 / 4.0, 4.0 / 3.0)


def sampler_areas(sampling, samples, size, seed=0):
    """Crop areas (fractions of the image) drawn by one of our samplers."""
    generator = keras.random.SeedGenerator(seed)

    def uniform(shape, low, high):
        return keras.random.uniform(shape, low, high, seed=generator)

    _, crop_h, _, crop_w = sample_crops(
        sampling, uniform, samples, size, size, AREA_RANGE, ASPECT_RANGE
    )
    return keras.ops.convert_to_numpy(crop_h * crop_w)


def tf_reference_areas(samples, size, seed=0):
    """Crop areas from ``tf.image.sample_distorted_bounding_box`` with SimCLR's arguments."""
    import tensorflow as tf

    bbox = tf.constant([0.0, 0.0, 1.0, 1.0], dtype=tf.float32, shape=[1, 1, 4])
    shape = tf.constant([size, size, 3])
    areas = np.empty(samples)
    for i in range(samples):
        _, box_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            shape,
            bounding_boxes=bbox,
            seed=[seed, i],
            min_object_covered=0.1,
            aspect_ratio_range=ASPECT_RANGE,
            area_range=AREA_RANGE,
            max_attempts=100,
            use_image_if_no_bounding_boxes=True,
        )
        areas[i] = float(box_size[0] * box_size[1]) / (size * size)
    return areas


def describe(name, areas):
    q1, median, q3 = np.percentile(areas, [25, 50, 75])
    return (
        f"{name:>26}: mean area {areas.mean():.4f} (median {median:.3f}, quartiles "
        f"{q1:.3f}-{q3:.3f}, min {areas.min():.3f}, n={len(areas)})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tf-reference",
        action="store_true",
        help="also draw from TF's own op (one call per crop: use fewer samples, e.g. 20000)",
    )
    args = parser.parse_args(argv)
    results = {}
    for sampling in CROP_SAMPLINGS:
        results[sampling] = sampler_areas(sampling, args.samples, args.size, args.seed)
        print(describe(f"{sampling} ({keras.backend.backend()})", results[sampling]), flush=True)
    if args.tf_reference:
        results["tf"] = tf_reference_areas(args.samples, args.size, args.seed)
        print(describe("tf sample_distorted_bbox", results["tf"]), flush=True)
    ratio = results["ours"].mean() / results["official"].mean()
    print(f"ours / official mean area: {ratio:.3f} ({args.size}x{args.size} image)")
    return {name: float(areas.mean()) for name, areas in results.items()}


if __name__ == "__main__":
    main()
