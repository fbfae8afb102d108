import keras
import numpy as np
import pytest

from keras_cpc.optimizers import LARS, WarmupCosineDecay, scale_learning_rate


def _model():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    return keras.Model(inputs, x)


def test_update_matches_reference_formula():
    model = _model()
    kernel = model.get_layer("dense").kernel
    bias = model.get_layer("dense").bias
    kernel.assign(np.arange(12, dtype="float32").reshape(3, 4) / 10.0)
    bias.assign(np.ones(4, "float32"))
    w0, b0 = keras.ops.convert_to_numpy(kernel), keras.ops.convert_to_numpy(bias)
    grads = [np.full((3, 4), 0.5, "float32"), np.full((4,), 0.25, "float32")]
    lr, wd, eta, momentum = 0.1, 0.01, 0.001, 0.9
    opt = LARS(lr, momentum=momentum, weight_decay=wd, trust_coefficient=eta)
    variables = [kernel, bias]
    for _ in range(2):
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    assert opt.uses_weight_decay(kernel) and opt.uses_layer_adaptation(kernel)
    assert not opt.uses_weight_decay(bias) and not opt.uses_layer_adaptation(bias)

    # NumPy reference of the official update, two steps.
    w, v_w, b, v_b = w0.copy(), np.zeros_like(w0), b0.copy(), np.zeros_like(b0)
    for _ in range(2):
        g = grads[0] + wd * w
        trust = eta * np.linalg.norm(w) / np.linalg.norm(g)
        v_w = momentum * v_w + lr * trust * g
        w = w - v_w
        v_b = momentum * v_b + lr * grads[1]  # bias: no decay, no adaptation
        b = b - v_b
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), w, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), b, rtol=1e-5)


def test_batch_norm_excluded_by_name_and_rank():
    model = _model()
    opt = LARS(0.1, weight_decay=1e-4, exclude_vectors=False)
    opt.build(model.trainable_variables)
    flags = {v.path: opt.uses_weight_decay(v) for v in model.trainable_variables}
    assert flags == {
        "dense/kernel": True,
        "dense/bias": False,
        "norm/gamma": True,
        "norm/beta": True,
    }
    opt = LARS(0.1, weight_decay=1e-4)  # default: rank <= 1 excluded whatever the name
    opt.build(model.trainable_variables)
    assert [opt.uses_weight_decay(v) for v in model.trainable_variables] == [True] + [False] * 3


def test_warmup_cosine_and_serialisation():
    schedule = WarmupCosineDecay(peak_learning_rate=2.0, warmup_steps=10, total_steps=110)
    values = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values, [0.0, 1.0, 2.0, 1.0, 0.0, 0.0], atol=1e-6)
    assert scale_learning_rate(0.3, 4096) == pytest.approx(4.8)
    assert scale_learning_rate(0.075, 4096, "sqrt") == pytest.approx(4.8)
    opt = LARS(schedule, weight_decay=1e-6, nesterov=True)
    rebuilt = LARS.from_config(opt.get_config())
    assert rebuilt.get_config()["weight_decay"] == 1e-6 and rebuilt.nesterov
    assert isinstance(rebuilt.learning_rate, float) or rebuilt._learning_rate is not None
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupCosineDecay(1.0, warmup_steps=20, total_steps=10)


def test_lars_trains_a_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=LARS(0.2, momentum=0.9, trust_coefficient=0.2), loss="mse")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
