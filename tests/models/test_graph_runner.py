"""The graph runners (PyTorch, JAX) give what Keras' functional execution gives."""

import keras
import numpy as np
import pytest

from keras_cpc.models import ResNetBackbone
from keras_cpc.models.graph_runner import compile_graph
from tests.helpers import set_deterministic_weights


def _classifier(backbone):
    inputs = keras.Input(backbone.image_shape)
    outputs = keras.layers.Dense(3)(backbone(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return model


@pytest.mark.parametrize(
    "config, dtype",
    [
        # ImageNet stem: the 7x7/2 conv's padding is folded into the convolution.
        (dict(depth=18, width_multiplier=0.125, stem="imagenet", image_shape=(32, 32, 3)), None),
        (dict(depth=18, width_multiplier=0.25, stem="cifar", image_shape=(8, 8, 3)), None),
        (dict(depth=18, width_multiplier=0.25, stem="cifar", image_shape=(8, 8, 3)), "bf16"),
    ],
)
def test_backbone_trains_as_the_functional_graph(config, dtype):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow runs Keras' functional graph: no graph runner")
    dtype = "mixed_bfloat16" if dtype else None
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6,) + config["image_shape"]).astype("uint8")
    targets = rng.normal(size=(6, 3)).astype("float32")
    results = []
    for runner in (True, False):
        backbone = ResNetBackbone(**config, dtype=dtype)
        assert backbone._graph_runner is not None
        if not runner:  # Keras' own execution of the same graph
            object.__setattr__(backbone, "_graph_runner", None)
        model = _classifier(backbone)
        set_deterministic_weights(model, seed=0)
        features = backbone(images, training=False)
        model.train_on_batch(images, targets)
        model.train_on_batch(images, targets)
        results.append([keras.ops.convert_to_numpy(features)] + model.get_weights())
    # A padding folded into a convolution runs another kernel: float32 rounding.
    tolerance = dict(rtol=2e-2, atol=2e-2) if dtype else dict(rtol=1e-4, atol=1e-4)
    for got, expected in zip(*results):
        np.testing.assert_allclose(np.float32(got), np.float32(expected), **tolerance)


def test_compiled_where_the_backend_gains():
    backbone = ResNetBackbone(depth=18, width_multiplier=0.125, stem="cifar")
    runner = compile_graph(backbone._encoder)
    assert (runner is not None) == (keras.backend.backend() in ("torch", "jax"))
    if runner is not None:
        images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype("uint8")
        outputs = runner(images, training=False)
        expected = backbone._encoder(images, training=False)
        assert sorted(outputs) == sorted(expected)
        for name in expected:
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(outputs[name]),
                keras.ops.convert_to_numpy(expected[name]),
                rtol=1e-5,
                atol=1e-6,
            )
    # A graph with two inputs is left to Keras.
    a, b = keras.Input((4,)), keras.Input((4,))
    assert compile_graph(keras.Model([a, b], keras.layers.Add()([a, b]))) is None
    # On JAX, so is a graph with no padding to fold.
    images = keras.Input((8, 8, 3))
    plain = keras.Model(images, keras.layers.Conv2D(4, 3, padding="same")(images))
    assert (compile_graph(plain) is None) == (keras.backend.backend() != "torch")
