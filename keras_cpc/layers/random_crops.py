"""Random resized crops for `SimCLRAugmentation`: two crop samplers and the bicubic resize.

A crop is four per-image fractions of the input, ``(start_y, height, start_x, width)``;
`resize_matrix` turns one axis of it into a (batch, out, in) bicubic interpolation matrix, so
a whole random resized crop is two batched matmuls (no gathers, the same code on every
backend, under ``jit_compile``). Two samplers produce the fractions:

* ``"ours"`` (`uniform_area_crops`): area uniform in ``crop_area``, log-uniform aspect ratio,
  side lengths clipped to the image, one draw per image. Mean area about 0.53 at
  (0.08, 1) on a square image.
* ``"official"`` (`official_crops`): the sampler of the official SimCLR code,
  ``tf.image.sample_distorted_bounding_box`` with ``min_object_covered=0.1``,
  ``area_range=(0.08, 1)``, ``max_attempts=100`` and ``use_image_if_no_bounding_boxes``:
  in whole pixels, aspect ratio uniform (not log-uniform) in the range, then the *height*
  uniform between the heights of the smallest and largest allowed areas (so small crops are
  likelier than with a uniform area), the TF op's rounding repairs, attempts that break a
  constraint retried (up to 100), and the whole image when all fail. Mean area about 0.43.
"""

import math

from keras import ops

# Keys' cubic convolution with a = -0.5 (the kernel of TF's and PIL's bicubic resize).
CUBIC_A = -0.5
CROP_SAMPLINGS = ("ours", "official")
# The official SimCLR `crop_and_resize` arguments of `sample_distorted_bounding_box`.
OFFICIAL_MIN_OBJECT_COVERED = 0.1
OFFICIAL_MAX_ATTEMPTS = 100


def _cubic_weights(distance):
    t = ops.abs(distance)
    a = CUBIC_A
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
    return ops.where(t <= 1.0, near, ops.where(t < 2.0, far, 0.0))


def resize_matrix(start, length, flip, out_size, in_size):
    """(batch, out_size, in_size) bicubic interpolation weights for a per-image 1-D crop.

    ``start`` and ``length`` are fractions of the input extent. Flipping reverses the
    sampling positions, so it costs nothing.
    """
    position = (ops.arange(out_size, dtype="float32") + 0.5) / ops.cast(out_size, "float32")
    position = ops.where(flip[:, None], 1.0 - position[None, :], position[None, :])
    source = (start[:, None] + position * length[:, None]) * ops.cast(in_size, "float32") - 0.5
    taps = ops.arange(in_size, dtype="float32")
    weights = _cubic_weights(source[:, :, None] - taps[None, None, :])
    # Renormalising rows clamps the kernel at the borders instead of reading zeros.
    return weights / ops.sum(weights, axis=-1, keepdims=True)


def uniform_area_crops(uniform, batch, in_h, in_w, crop_area, aspect_ratio):
    """Our sampler: ``(start_y, crop_h, start_x, crop_w)`` fractions, one draw per image.

    Args:
        uniform: ``uniform(shape, low, high)``, float32 draws (the layer's seeded generator).
        batch, in_h, in_w: batch size and input height and width.
        crop_area: ``(min, max)`` area fraction, drawn uniformly.
        aspect_ratio: ``(min, max)`` width / height, drawn log-uniformly.
    """
    area = uniform((batch,), *crop_area)
    log_ratio = uniform((batch,), *(math.log(r) for r in aspect_ratio))
    shape_ratio = ops.cast(in_h, "float32") / ops.cast(in_w, "float32")
    crop_w = ops.minimum(ops.sqrt(area * ops.exp(log_ratio) * shape_ratio), 1.0)
    crop_h = ops.minimum(ops.sqrt(area / ops.exp(log_ratio) / shape_ratio), 1.0)
    start_y = uniform((batch,), 0.0, 1.0) * (1.0 - crop_h)
    start_x = uniform((batch,), 0.0, 1.0) * (1.0 - crop_w)
    return start_y, crop_h, start_x, crop_w


def _official_height_and_width(height, ratio, in_h, in_w, min_area, max_area):
    """The TF op's rounding repairs of one attempt (``GenerateRandomCrop``), vectorised."""
    width = ops.round(height * ratio)
    area = width * height
    height = ops.where(area < min_area, height + 1.0, height)  # try a slightly bigger one
    width = ops.round(height * ratio)
    area = width * height
    height = ops.where(area > max_area, height - 1.0, height)  # then a slightly smaller one
    width = ops.round(height * ratio)
    area = width * height
    valid = (area >= min_area) & (area <= max_area) & (width <= in_w) & (height <= in_h)
    valid = valid & (width > 0) & (height > 0)
    # min_object_covered against the whole-image box: the crop must cover 10% of the image.
    valid = valid & (area >= OFFICIAL_MIN_OBJECT_COVERED * in_h * in_w) & (area >= 1.0)
    return height, width, valid


def official_crops(uniform, batch, in_h, in_w, crop_area, aspect_ratio):
    """The official SimCLR sampler (see the module docstring): fractions as `uniform_area_crops`.

    Args:
        uniform: ``uniform(shape, low, high)``, float32 draws (the layer's seeded generator).
        batch, in_h, in_w: batch size and input height and width (the crop is in whole
            pixels of the input).
        crop_area: ``area_range`` of the op, (0.08, 1) in SimCLR.
        aspect_ratio: ``aspect_ratio_range`` (width / height in pixels), drawn uniformly;
            SimCLR passes (3/4, 4/3) times the output's width / height.
    """
    in_h = ops.cast(in_h, "float32")
    in_w = ops.cast(in_w, "float32")
    attempts = (batch, OFFICIAL_MAX_ATTEMPTS)
    ratio = uniform(attempts, *aspect_ratio)
    min_area = crop_area[0] * in_w * in_h
    max_area = crop_area[1] * in_w * in_h
    height = ops.round(ops.sqrt(min_area / ratio))
    max_height = ops.round(ops.sqrt(max_area / ratio))
    # The smallest max height with round(max_height * ratio) <= width, as the op finds it.
    capped = ops.floor((in_w + 0.5 - 1e-7) / ratio)
    capped = ops.where(ops.round(capped * ratio) > in_w, capped - 1.0, capped)
    max_height = ops.where(ops.round(max_height * ratio) > in_w, capped, max_height)
    max_height = ops.minimum(max_height, in_h)
    height = ops.minimum(height, max_height)
    # An integer uniform in the closed range [height, max_height].
    height = height + ops.floor(uniform(attempts, 0.0, 1.0) * (max_height - height + 1.0))
    height = ops.minimum(height, max_height)  # a draw of exactly 1.0 (float rounding)
    height, width, valid = _official_height_and_width(height, ratio, in_h, in_w, min_area, max_area)
    # The first attempt that satisfies every constraint; the whole image if none does.
    first = ops.argmax(ops.cast(valid, "int32"), axis=1)[:, None]
    found = ops.any(valid, axis=1)
    crop_h = ops.where(found, ops.take_along_axis(height, first, axis=1)[:, 0], in_h)
    crop_w = ops.where(found, ops.take_along_axis(width, first, axis=1)[:, 0], in_w)
    # Offsets uniform in [0, in - crop) (the op's Uniform(n) excludes n), 0 for a full side.
    start_y = ops.minimum(ops.floor(uniform((batch,), 0.0, 1.0) * (in_h - crop_h)), in_h - crop_h)
    start_x = ops.minimum(ops.floor(uniform((batch,), 0.0, 1.0) * (in_w - crop_w)), in_w - crop_w)
    start_y = ops.where(crop_h < in_h, start_y, 0.0)
    start_x = ops.where(crop_w < in_w, start_x, 0.0)
    return start_y / in_h, crop_h / in_h, start_x / in_w, crop_w / in_w


def sample_crops(sampling, uniform, batch, in_h, in_w, crop_area, aspect_ratio):
    """Crop fractions ``(start_y, crop_h, start_x, crop_w)`` from the sampler ``sampling``.

    Example:
        >>> import keras
        >>> draw = lambda shape, low, high: keras.random.uniform(shape, low, high, seed=0)
        >>> start_y, crop_h, start_x, crop_w = sample_crops(
        ...     "official", draw, 8, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3))
    """
    if sampling == "official":
        return official_crops(uniform, batch, in_h, in_w, crop_area, aspect_ratio)
    if sampling == "ours":
        return uniform_area_crops(uniform, batch, in_h, in_w, crop_area, aspect_ratio)
    raise ValueError(f"Expected `crop_sampling` in {CROP_SAMPLINGS}; received {sampling!r}.")
