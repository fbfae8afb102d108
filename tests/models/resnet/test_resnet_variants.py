"""SimCLR v2 architecture pieces: selective-kernel convs, deep and SK ResNet variants, and the
depth / width / SK inference from official checkpoint names."""

import json

import keras
import numpy as np
import pytest

from keras_cpc.layers.selective_kernel import SelectiveKernelConv2D
from keras_cpc.models import ResNetBackbone
from keras_cpc.models.resnet.resnet_blocks import RESNET_STAGES
from keras_cpc.models.resnet.simclr_tf1_names import infer_architecture


def _np(variable):
    return keras.ops.convert_to_numpy(variable)


def _relu_bn(layer, x):
    # Inference-mode BN with its moving statistics, then ReLU (NumPy).
    scale = _np(layer.gamma) / np.sqrt(_np(layer.moving_variance) + 1e-5)
    return np.maximum(0.0, (x - _np(layer.moving_mean)) * scale + _np(layer.beta))


@pytest.mark.parametrize("strides, size, expected", [(1, 5, 5), (2, 5, 3), (2, 6, 3)])
def test_selective_kernel_shapes_and_config(strides, size, expected):
    layer = SelectiveKernelConv2D(6, strides=strides, sk_ratio=0.5, min_dim=2)
    outputs = layer(np.ones((2, size, size, 3), "float32"))
    assert tuple(outputs.shape) == (2, expected, expected, 6)
    assert layer.mid_dim == 3 and tuple(layer.reduce_conv.kernel.shape) == (1, 1, 6, 3)
    assert SelectiveKernelConv2D(64, sk_ratio=0.0625).mid_dim == 32  # official min_dim
    config = json.loads(json.dumps(layer.get_config()))
    assert SelectiveKernelConv2D.from_config(config).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="`sk_ratio` must be > 0; received sk_ratio=0"):
        SelectiveKernelConv2D(4, sk_ratio=0)


def test_selective_kernel_mixes_two_streams_by_softmax():
    rng = np.random.default_rng(0)
    layer = SelectiveKernelConv2D(4, strides=1, sk_ratio=0.5, min_dim=2)
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    layer.build(x.shape)
    for variable in layer.weights:
        variable.assign(rng.uniform(0.5, 1.5, size=variable.shape).astype("float32"))
    streams = _relu_bn(layer.batch_norm, _np(layer.conv(x)))
    stream_a, stream_b = streams[..., :4], streams[..., 4:]
    pooled = (stream_a + stream_b).mean(axis=(1, 2), keepdims=True)
    hidden = _relu_bn(layer.reduce_batch_norm, pooled @ _np(layer.reduce_conv.kernel)[0, 0])
    logits = hidden @ _np(layer.mix_conv.kernel)[0, 0]
    # Softmax over the two streams of each channel: a sigmoid of the logit difference.
    weight_a = 1.0 / (1.0 + np.exp(logits[..., 4:] - logits[..., :4]))
    expected = stream_a * weight_a + stream_b * (1.0 - weight_a)
    outputs = _np(layer(x, training=False))
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)


def test_selective_kernel_trains():
    inputs = keras.Input((6, 6, 3))
    sk = SelectiveKernelConv2D(4, strides=2, sk_ratio=0.5, min_dim=2)
    x = keras.layers.GlobalAveragePooling2D()(sk(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    before = [_np(v) for v in sk.trainable_weights]
    images = np.random.default_rng(1).normal(size=(4, 6, 6, 3)).astype("float32")
    model.fit(images, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, verbose=0)
    after = [_np(v) for v in sk.trainable_weights]
    assert len(before) == 7  # 3 conv kernels, gamma and beta of 2 BNs
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))


def test_official_depths_and_argument_checks():
    # resnet.py model_params of google-research/simclr.
    assert RESNET_STAGES == {
        18: ("basic", (2, 2, 2, 2)),
        34: ("basic", (3, 4, 6, 3)),
        50: ("bottleneck", (3, 4, 6, 3)),
        101: ("bottleneck", (3, 4, 23, 3)),
        152: ("bottleneck", (3, 8, 36, 3)),
        200: ("bottleneck", (3, 24, 36, 3)),
    }
    with pytest.raises(ValueError, match="bottleneck ResNets.*received depth=18 with sk_ratio"):
        ResNetBackbone(depth=18, sk_ratio=0.0625)
    with pytest.raises(ValueError, match="`sk_ratio` must be >= 0; received sk_ratio=-1"):
        ResNetBackbone(depth=50, sk_ratio=-1)


def _official_shapes(depth, width, sk):
    """The backbone variable names and shapes the official TF1 code creates (the parts
    `infer_architecture` reads: counts, stem kernels, last kernel)."""
    block_type, stage_blocks = RESNET_STAGES[depth]
    per_block = {"basic": 2, "bottleneck": 5 if sk else 3}[block_type]
    stem = 3 if sk else 1
    num_convs = stem + len(stage_blocks) + per_block * sum(stage_blocks)
    num_norms = num_convs - (sum(stage_blocks) if sk else 0)
    final = int(width * (2048 if block_type == "bottleneck" else 512))
    shapes = {}
    for i in range(num_convs):
        shapes[f"base_model/conv2d{f'_{i}' if i else ''}/kernel"] = (1, 1, 8, 8)
    for i in range(num_norms):
        shapes[f"base_model/batch_normalization{f'_{i}' if i else ''}/gamma"] = (8,)
    shapes["base_model/conv2d/kernel"] = (3, 3, 3, 32) if sk else (7, 7, 3, 64)
    if sk:
        shapes["base_model/conv2d_1/kernel"] = (3, 3, 32, 32)
    shapes[f"base_model/conv2d_{num_convs - 1}/kernel"] = (1, 1, final // 4, final)
    return shapes


@pytest.mark.parametrize(
    "depth, width, sk",
    [(50, 1, False), (50, 2, True), (101, 1, True), (101, 2, False), (152, 3, True),
     (152, 1, False), (200, 2, False), (18, 0.25, False), (34, 1, False)],
)  # fmt: skip
def test_architecture_is_inferred_from_official_names(depth, width, sk):
    inferred = infer_architecture(_official_shapes(depth, width, sk))
    assert inferred == {
        "depth": depth,
        "width_multiplier": width,
        "stem": "imagenet",
        "sk_ratio": 0.0625 if sk else 0.0,
    }
    shapes = _official_shapes(depth, width, sk)
    del shapes["base_model/conv2d_3/kernel"]  # a gap: still the same depth (names report it)
    assert infer_architecture(shapes)["depth"] == depth
