"""keras_cpc's Conv2D / BatchNormalization compute what Keras' do, with Keras' weight layout."""

import keras
import numpy as np
import pytest

from keras_cpc.layers import native_layout

CONVS = [
    dict(filters=6, kernel_size=3, padding="same", use_bias=True, activation="relu"),
    dict(filters=6, kernel_size=3, strides=2, padding="valid", use_bias=False),
    dict(filters=6, kernel_size=2, padding="same"),  # even "same": Keras' own path
    dict(filters=6, kernel_size=1, strides=2, groups=2, use_bias=False),
]


def _model(conv_module, bn_module, conv_kwargs):
    inputs = keras.Input((9, 9, 4))
    x = conv_module.Conv2D(**conv_kwargs)(inputs)
    x = bn_module.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3)(x)
    # A rank-2 batch norm too, as in the projection head.
    outputs = bn_module.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return keras.Model(inputs, outputs)


def _trained(model, weights, images, targets):
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    for _ in range(2):
        model.train_on_batch(images, targets)
    return model.get_weights(), keras.ops.convert_to_numpy(model(images, training=False))


@pytest.mark.parametrize("conv_kwargs", CONVS)
def test_training_matches_keras_layers(conv_kwargs):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 9, 9, 4)).astype("float32")
    targets = rng.normal(size=(8, 3)).astype("float32")
    reference = _model(keras.layers, keras.layers, conv_kwargs)
    native = _model(native_layout, native_layout, conv_kwargs)
    weights = [w + rng.normal(size=w.shape).astype(w.dtype) * 0.1 for w in reference.get_weights()]
    expected_weights, expected = _trained(reference, weights, images, targets)
    got_weights, got = _trained(native, weights, images, targets)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for got_w, expected_w in zip(got_weights, expected_weights):  # incl. moving statistics
        np.testing.assert_allclose(got_w, expected_w, rtol=1e-4, atol=1e-6)


def test_mixed_bfloat16_matches_keras_layers():
    images = np.random.default_rng(1).normal(size=(4, 9, 9, 4)).astype("float32")
    outputs = {}
    for name, module in (("keras", keras.layers), ("native", native_layout)):
        keras.utils.set_random_seed(0)
        conv = module.Conv2D(5, 3, padding="same", dtype="mixed_bfloat16")
        bn = module.BatchNormalization(dtype="mixed_bfloat16")
        y = bn(conv(images), training=True)
        assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
        assert keras.backend.standardize_dtype(bn.moving_mean.dtype) == "float32"
        outputs[name] = keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))
        outputs[name + " mean"] = keras.ops.convert_to_numpy(bn.moving_mean)
    np.testing.assert_allclose(outputs["native"], outputs["keras"], atol=2e-2)
    np.testing.assert_allclose(outputs["native mean"], outputs["keras mean"], atol=1e-2)


def test_weights_file_layout_is_keras(tmp_path):
    # Keras names a model's layers in weights files after their class: same class names,
    # same files, in both directions.
    reference = _model(keras.layers, keras.layers, CONVS[0])
    native = _model(native_layout, native_layout, CONVS[0])
    path = str(tmp_path / "model.weights.h5")
    reference.save_weights(path)
    native.load_weights(path)
    for got, expected in zip(native.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert isinstance(native.layers[1], keras.layers.Conv2D)
    config = native.layers[2].get_config()
    assert native_layout.BatchNormalization.from_config(config).get_config() == config


def test_kernel_memory_order_survives_training_and_loading(tmp_path):
    # On PyTorch the kernel is stored in the order its channels-last convolution reads
    # (out, h, w, in), so the layer never copies it; the values, and the file, are Keras'.
    native = _model(native_layout, native_layout, CONVS[0])
    reference = _model(keras.layers, keras.layers, CONVS[0])
    weights = native.get_weights()
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 9, 9, 4)).astype("float32")
    targets = rng.normal(size=(4, 3)).astype("float32")
    trained, _ = _trained(native, weights, images, targets)
    expected, _ = _trained(reference, weights, images, targets)
    for got, want in zip(trained, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    path = str(tmp_path / "native.weights.h5")
    native.save_weights(path)
    reference.load_weights(path)
    native.load_weights(path)
    for got, want in zip(native.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)
    if keras.backend.backend() == "torch":
        import torch

        kernel = native.layers[1].kernel.value
        assert kernel.permute(3, 2, 0, 1).is_contiguous(memory_format=torch.channels_last)
        assert kernel.grad is None or kernel.grad.stride() == kernel.stride()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_slots_take_their_variables_memory_order(optimizer):
    # Keras' torch optimizers update every variable at once with torch's multi-tensor kernels,
    # which keep their fast path only when the tensors of a call share strides: the models'
    # step (train_function) gives each slot the memory order of its variable, values intact.
    from keras_cpc.models import train_function

    model = _model(native_layout, native_layout, CONVS[0])
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(0.1, momentum=0.9)
    else:
        opt = keras.optimizers.Adam(1e-2)
    model.compile(optimizer=opt, loss="mse")
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 9, 9, 4)).astype("float32")
    targets = rng.normal(size=(4, 3)).astype("float32")
    model.train_on_batch(images, targets)  # builds the optimizer: Keras' slots
    before = [keras.ops.convert_to_numpy(v) for v in opt.variables]
    train_function.make_train_function(model, force=True)
    for got, want in zip(opt.variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), want)
    slot_lists = [opt.momentums] if optimizer == "sgd" else [opt._momentums, opt._velocities]
    for slots in slot_lists:
        for variable, slot in zip(opt._trainable_variables, slots):
            if hasattr(variable.value, "stride"):  # torch tensors
                assert slot.value.stride() == variable.value.stride(), variable.path
    assert np.isfinite(model.train_on_batch(images, targets))
