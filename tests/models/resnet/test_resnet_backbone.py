import keras
import numpy as np
import pytest

from keras_cpc.models import ResNetBackbone
from tests.helpers import assert_matches_golden, run_backbone_test, set_deterministic_weights

TINY = dict(width_multiplier=0.125, image_shape=(16, 16, 3))


def _images(batch=2, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(batch, size, size, 3)).astype("uint8")


@pytest.mark.parametrize(
    "depth, stem, dim, map_size",
    [(18, "cifar", 64, 2), (34, "imagenet", 64, 1), (50, "cifar", 256, 2)],
)
def test_output_shapes(depth, stem, dim, map_size):
    backbone = ResNetBackbone(depth=depth, stem=stem, **TINY)
    assert backbone.output_dim == dim
    # Symbolic shapes: cheap, and the same graph the eager test below runs.
    images = keras.KerasTensor((2, 16, 16, 3))
    assert tuple(backbone.compute_output_spec(images).shape) == (2, dim)
    outputs = backbone._encoder.compute_output_spec(images)
    assert tuple(outputs["feature_map"].shape) == (2, map_size, map_size, dim)


def test_encode_returns_feature_map_and_pooled():
    backbone = ResNetBackbone(depth=18, stem="cifar", **TINY)
    set_deterministic_weights(backbone, seed=1)
    images = _images()
    pooled = backbone(images)
    outputs = backbone.encode(images)
    assert set(outputs) == {
        "feature_map",
        "pooled",
        "initial_conv",
        "initial_max_pool",
        *(f"block_group{i}" for i in range(1, 5)),
    }
    feature_map = keras.ops.convert_to_numpy(outputs["feature_map"])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(outputs["block_group4"]), feature_map)
    assert tuple(outputs["feature_map"].shape) == (2, 2, 2, 64)
    feature_map = keras.ops.convert_to_numpy(outputs["feature_map"])
    np.testing.assert_allclose(
        feature_map.mean(axis=(1, 2)), keras.ops.convert_to_numpy(pooled), rtol=1e-5, atol=1e-6
    )
    # Pixel scaling happens inside: uint8 and float inputs give the same features.
    from_float = keras.ops.convert_to_numpy(backbone(images.astype("float32")))
    np.testing.assert_allclose(from_float, keras.ops.convert_to_numpy(pooled), rtol=1e-6)


def test_simclr_details():
    backbone = ResNetBackbone(depth=18, stem="cifar", **TINY)
    norms = [
        layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and all(n.momentum == 0.9 and n.epsilon == 1e-5 for n in norms)
    last_bns = [n for n in norms if n.name.endswith("_bn2") and "shortcut" not in n.name]
    assert len(last_bns) == 8  # one per basic block of ResNet-18
    for norm in last_bns:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(norm.gamma), 0.0)
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(not conv.use_bias for conv in convs)
    # Full-width ResNet-18 stage widths are 64..512; here 8..64 at width 0.125.
    assert backbone.get_layer("stage4_block2_conv2").filters == 64
    # The strided 3x3 conv pads symmetrically (1, 1) and then runs a VALID conv.
    pad = backbone.get_layer("stage2_block1_conv1_pad")
    assert pad.padding == ((1, 1), (1, 1))


@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_matches_golden_across_backends(stem):
    backbone = ResNetBackbone(depth=18, stem=stem, width_multiplier=0.125)
    set_deterministic_weights(backbone, seed=3)
    images = _images(batch=2, size=18, seed=4)  # odd map sizes exercise padding rules
    outputs = backbone.encode(images, training=False)
    assert_matches_golden(
        f"resnet18_{stem}_tiny",
        {"pooled": outputs["pooled"], "feature_map": outputs["feature_map"]},
        rtol=1e-4,
        atol=1e-5,
    )


def test_backbone_contract(tmp_path):
    backbone = run_backbone_test(
        ResNetBackbone,
        dict(depth=18, stem="imagenet", width_multiplier=0.125, image_shape=(None, None, 3)),
        _images(),
        expected_output_shape=(2, 64),
        variable_length_data=[_images(size=24)],
        tmp_path=tmp_path,
    )
    assert tuple(backbone.encode(_images())["feature_map"].shape) == (2, 1, 1, 64)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="depth"):
        ResNetBackbone(depth=20)
    with pytest.raises(ValueError, match="stem"):
        ResNetBackbone(depth=18, stem="tiny")
    with pytest.raises(ValueError, match="width_multiplier"):
        ResNetBackbone(depth=18, width_multiplier=0)
    # NumPy integers are taken as ints (and stored as Python ints: the config stays JSON).
    backbone = ResNetBackbone(depth=np.int64(18), stem="cifar", **TINY)
    assert type(backbone.depth) is int and backbone.get_config()["depth"] == 18
    with pytest.raises(ValueError, match="`depth` must be an int.*received True"):
        ResNetBackbone(depth=True)
