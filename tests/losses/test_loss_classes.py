"""InfoNCE / NTXent Loss classes, and mixed precision at temperature 0.05."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.losses import InfoNCE, NTXent, info_nce, nt_xent, nt_xent_logits


def test_loss_classes_equal_the_functions():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(8, 8)).astype("float32")
    z = rng.normal(size=(10, 4)).astype("float32")
    np.testing.assert_allclose(
        float(InfoNCE()(None, scores)), float(ops.mean(info_nce(scores))), atol=1e-6
    )
    expected = float(nt_xent(z[:5], z[5:], 0.2))
    np.testing.assert_allclose(float(NTXent(0.2)(None, z)), expected, atol=1e-6)
    np.testing.assert_allclose(
        float(NTXent(0.2)(None, np.stack([z[:5], z[5:]], axis=1))), expected, atol=1e-6
    )


def test_loss_classes_serialize():
    for loss in (InfoNCE(), NTXent(temperature=0.1)):
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(restored) is type(loss)
        assert restored.get_config() == loss.get_config()


def test_bad_loss_class_inputs_raise():
    with pytest.raises(ValueError, match=r"Expected `temperature` > 0. Received"):
        NTXent(temperature=0.0)
    with pytest.raises(ValueError, match=r"Expected `y_pred` of shape \(2N, D\).*Received"):
        NTXent()(None, np.zeros((5, 3), "float32"))


class TwoViewModel(keras.Model):
    """Projects 2N inputs; the loss combines NT-Xent and InfoNCE on half-precision codes."""

    def __init__(self, temperature):
        super().__init__()
        self.temperature = temperature
        self.projection = keras.layers.Dense(16, kernel_initializer="glorot_uniform")

    def call(self, x):
        return self.projection(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        n = ops.shape(y_pred)[0] // 2
        z_a, z_b = y_pred[:n], y_pred[n:]
        # Scores formed in the compute dtype, as a careless model would: the loss still copes.
        scores = ops.matmul(z_a, ops.transpose(z_b)) * ops.cast(0.05, z_a.dtype)
        return nt_xent(z_a, z_b, self.temperature) + ops.mean(info_nce(scores))


@pytest.fixture
def reset_policy():
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_at_temperature_005_is_finite(policy, reset_policy):
    keras.config.set_dtype_policy(policy)
    half = "float16" if policy == "mixed_float16" else "bfloat16"
    # Direct call: half-precision scores of +-20 over 256 candidates overflow a float16
    # logsumexp (exp(20) > 65504); the losses compute in float32.
    rng = np.random.default_rng(0)
    scores = ops.cast(rng.uniform(-20, 20, size=(256, 256)), half)
    value = info_nce(scores)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert np.isfinite(ops.convert_to_numpy(value)).all()
    z = ops.cast(100.0 * rng.normal(size=(64, 32)), half)  # |z|^2 overflows float16
    logits = ops.convert_to_numpy(nt_xent_logits(z[:32], z[32:], 0.05)[0])
    assert np.isfinite(logits).all() and np.isfinite(float(nt_xent(z[:32], z[32:], 0.05)))

    # Gradients through fit steps, without loss scaling (which would silently skip a step with
    # non-finite gradients): plain SGD turns any inf/NaN gradient into non-finite weights.
    model = TwoViewModel(temperature=0.05)
    x = (10.0 * rng.normal(size=(32, 8))).astype("float32")
    model(x[:2])
    assert keras.backend.standardize_dtype(model.projection.compute_dtype) == half
    before = ops.convert_to_numpy(model.projection.kernel).copy()
    model.compile(optimizer=keras.optimizers.SGD(0.01), auto_scale_loss=False)
    history = model.fit(x, batch_size=32, epochs=2, shuffle=False, verbose=0)
    after = ops.convert_to_numpy(model.projection.kernel)
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(after).all()
    assert not np.allclose(before, after)
