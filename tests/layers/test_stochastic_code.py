"""StochasticCode and its learned GaussianMixturePrior."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.layers import GaussianMixturePrior, StochasticCode
from tests.helpers import assert_matches_golden, set_deterministic_weights


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def np_mixture_log_density(z, logits, means, log_scales):
    log_w = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    diff = (z[..., None, :] - means) / np.exp(log_scales)
    log_normal = (-0.5 * diff**2 - log_scales - 0.5 * math.log(2 * math.pi)).sum(-1) + log_w
    m = log_normal.max(-1, keepdims=True)
    return (m + np.log(np.exp(log_normal - m).sum(-1, keepdims=True)))[..., 0]


def test_shapes_dtypes_and_inference_mean():
    code = StochasticCode(6, num_components=3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 5, 7)).astype("float32")
    z, cross_entropy = code(x)
    assert tuple(z.shape) == (4, 5, 6) and tuple(cross_entropy.shape) == ()
    assert keras.backend.standardize_dtype(cross_entropy.dtype) == "float32"
    # Not training: z is the deterministic mean mu(x).
    np.testing.assert_allclose(to_np(z), to_np(code.mean_dense(x)), atol=1e-6)
    np.testing.assert_allclose(to_np(code(x)[0]), to_np(z), atol=0)
    z_train, _ = code(x, training=True)
    assert not np.allclose(to_np(z_train), to_np(z))
    assert code.compute_output_shape((4, 5, 7)) == ((4, 5, 6), ())


def test_cross_entropy_is_mean_negative_log_prior_density():
    code = StochasticCode(3, num_components=4, seed=0)
    x = np.random.default_rng(1).normal(size=(10, 5)).astype("float32")
    code(x)
    set_deterministic_weights(code, seed=3, scale=0.5)
    z, cross_entropy = code(x)
    prior = code.prior
    expected = -np_mixture_log_density(
        to_np(z), to_np(prior.mixture_logits), to_np(prior.means), to_np(prior.log_scales)
    ).mean()
    np.testing.assert_allclose(float(cross_entropy), expected, rtol=1e-5)
    assert_matches_golden("stochastic_code", {"z": z, "cross_entropy": cross_entropy}, rtol=1e-5)


def test_noise_has_the_learned_scale_and_respects_the_floor():
    code = StochasticCode(4, min_std=0.2, initial_std=0.7, seed=0)
    x = np.tile(np.random.default_rng(2).normal(size=(1, 3)), (4000, 1)).astype("float32")
    z, _ = code(x, training=True)
    np.testing.assert_allclose(to_np(z).std(0), 0.7, rtol=0.06)
    np.testing.assert_allclose(to_np(z).mean(0), to_np(code(x[:1])[0])[0], atol=0.05)
    # Drive the learned scale to zero: sigma stays at the floor min_std.
    code.scale_dense.bias.assign(np.full((4,), -40.0, "float32"))
    z, _ = code(x, training=True)
    np.testing.assert_allclose(to_np(z).std(0), 0.2, rtol=0.06)


class PriorFit(keras.Model):
    def __init__(self):
        super().__init__()
        self.prior = GaussianMixturePrior(num_components=2, seed=0)

    def call(self, z):
        return self.prior(z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return -ops.mean(y_pred)


def test_learned_prior_cross_entropy_is_an_upper_bound_that_tightens():
    rng = np.random.default_rng(0)
    scales = np.array([0.5, 2.0], "float32")
    z = (rng.normal(size=(2048, 2)) * scales).astype("float32")
    entropy = float(np.sum(0.5 * np.log(2 * math.pi * math.e * scales.astype("float64") ** 2)))
    model = PriorFit()
    before = -float(ops.mean(model(z)))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(z, batch_size=256, epochs=25, verbose=0)
    after = -float(ops.mean(model(z)))
    assert before > after  # training tightens the bound ...
    assert after > entropy - 0.05  # ... which stays above H (Monte Carlo slack 0.05)
    assert after < entropy + 0.1


def test_mixed_precision_code_keeps_float32_cross_entropy():
    try:
        keras.config.set_dtype_policy("mixed_float16")
        code = StochasticCode(4, num_components=2, seed=0)
        z, cross_entropy = code(100.0 * np.ones((8, 3), "float32"), training=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(z.dtype) == "float16"
    assert keras.backend.standardize_dtype(cross_entropy.dtype) == "float32"
    assert keras.backend.standardize_dtype(code.prior.means.dtype) == "float32"
    assert np.isfinite(float(cross_entropy))


def test_config_round_trip_and_serialization():
    code = StochasticCode(5, num_components=3, min_std=0.05, initial_std=0.3, seed=7)
    restored = keras.layers.deserialize(keras.layers.serialize(code))
    assert isinstance(restored, StochasticCode)
    assert restored.get_config() == code.get_config()
    prior = GaussianMixturePrior(num_components=5, initial_spread=2.0)
    assert GaussianMixturePrior.from_config(prior.get_config()).get_config() == prior.get_config()


def test_weights_save_and_reload(tmp_path):
    inputs = keras.Input((3,))
    z, cross_entropy = StochasticCode(2, num_components=2, seed=0)(inputs)
    model = keras.Model(inputs, [z, cross_entropy])
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    path = str(tmp_path / "code.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    # (model(x), not predict: predict cannot concatenate the scalar output across batches.)
    for got, want in zip(reloaded(x), model(x)):
        np.testing.assert_allclose(to_np(got), to_np(want), atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"Expected `min_std` > 0. Received"):
        StochasticCode(4, min_std=0.0)
    with pytest.raises(ValueError, match=r"Expected `initial_std` > `min_std`.*Received"):
        StochasticCode(4, min_std=0.5, initial_std=0.5)
    with pytest.raises(ValueError, match=r"Expected `units` >= 1. Received"):
        StochasticCode(0)
    with pytest.raises(ValueError, match=r"Expected `num_components` >= 1. Received"):
        GaussianMixturePrior(num_components=0)
