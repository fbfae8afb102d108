"""Crop samplers: ours (uniform area) and the official SimCLR one (TF's bounding-box sampler)."""

import keras
import numpy as np
import pytest

from keras_cpc.layers import SimCLRAugmentation
from keras_cpc.layers.random_crops import sample_crops

AREA, ASPECT = (0.08, 1.0), (3 / 4, 4 / 3)
# Mean crop area of tf.image.sample_distorted_bounding_box called as the official code calls
# it, 32x32 image: 0.4304 over 20,000 draws (benchmarks/simclr_crop_area.py --tf-reference).
TF_MEAN_AREA = 0.4304


def crops(sampling, count=4000, height=32, width=32, seed=0):
    generator = keras.random.SeedGenerator(seed)

    def uniform(shape, low, high):
        return keras.random.uniform(shape, low, high, seed=generator)

    parts = sample_crops(sampling, uniform, count, height, width, AREA, ASPECT)
    return [keras.ops.convert_to_numpy(part).astype("float64") for part in parts]


def test_official_crops_are_whole_pixels_inside_the_image_with_tf_statistics():
    start_y, crop_h, start_x, crop_w = crops("official")
    pixels = [v * 32 for v in (start_y, crop_h, start_x, crop_w)]
    for value in pixels:
        np.testing.assert_allclose(value, np.round(value), atol=1e-4)
    y, h, x, w = (np.round(v) for v in pixels)
    assert (h >= 1).all() and (w >= 1).all() and (y + h <= 32).all() and (x + w <= 32).all()
    assert (h * w >= 0.1 * 32 * 32).all()  # min_object_covered=0.1 of the whole image
    ratio = (w / h)[(h < 32) & (w < 32)]
    assert ratio.min() > 0.7 and ratio.max() < 1.4  # 3/4..4/3 up to rounding to pixels
    # TF's Uniform(n) offsets are in [0, n): a crop never touches the far edge unless full.
    assert not ((y + h == 32) & (h < 32)).any()
    area = crop_h * crop_w
    assert abs(area.mean() - TF_MEAN_AREA) < 0.015, area.mean()  # 4 standard errors
    ours = crops("ours")
    assert abs((ours[1] * ours[3]).mean() - 0.534) < 0.015  # uniform area, clipped sides


def test_official_sampler_in_the_layer_and_its_config():
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 12, 3)).astype("uint8")
    layer = SimCLRAugmentation(crop_sampling="official", jitter_strength=0.5, seed=1)
    views = keras.ops.convert_to_numpy(layer(images, training=True))
    assert views.shape == images.shape and 0 <= views.min() and views.max() <= 255
    config = layer.get_config()
    assert config["crop_sampling"] == "official"
    assert config["dtype"]["config"]["name"] == "float32"  # whatever the global policy
    assert SimCLRAugmentation.from_config(config).crop_sampling == "official"
    with pytest.raises(ValueError, match=r"crop_sampling.*\('ours', 'official'\).*'tf'"):
        SimCLRAugmentation(crop_sampling="tf")
