"""estimate_mutual_information on Poole et al.'s correlated Gaussians, and the beta sweep."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.layers import SeparableCritic, StochasticCode
from keras_cpc.losses import info_nce
from keras_cpc.mi import InfoNCEEstimator, estimate_mutual_information


def correlated_gaussians(mi, num_samples, dim=20, seed=0):
    """x, y in R^dim with componentwise correlation rho and I(x; y) = mi nats."""
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_samples, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.normal(size=x.shape)
    return x.astype("float32"), y.astype("float32")


def cosine(learning_rate, steps):
    return keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)


def test_trained_separable_critic_reaches_the_bound_at_2_nats():
    # Fresh pairs every step (as in Poole et al.), batch 64; a one-hidden-layer separable MLP
    # with a decaying rate learns faster than the paper's 2-layer critic at 5e-4.
    steps = 1000
    x, y = correlated_gaussians(2.0, steps * 64, seed=10)
    estimate, history = estimate_mutual_information(
        x, y, steps=steps, learning_rate=cosine(2e-3, steps), num_layers=1, verbose=0
    )
    assert len(history["mi_lower_bound"]) == steps == len(history["loss"])
    assert max(history["mi_lower_bound"]) <= math.log(64) + 1e-5
    # The optimal critic gives 1.82 +- 0.19 per batch at I = 2 (reference/cpc.md 4.3).
    assert 1.6 <= estimate <= 1.95, estimate


def test_estimate_stays_below_log_batch_size_at_10_nats():
    steps = 300
    x, y = correlated_gaussians(10.0, steps * 64, seed=11)
    estimate, history = estimate_mutual_information(
        x, y, steps=steps, learning_rate=cosine(2e-3, steps), num_layers=1, verbose=0
    )
    assert max(history["mi_lower_bound"]) <= math.log(64) + 1e-5
    assert 3.5 < estimate < math.log(64), estimate  # saturates at ln 64, far below the truth


def test_concat_critic_learns():
    x, y = correlated_gaussians(2.0, 4096, dim=4, seed=12)
    estimate, history = estimate_mutual_information(
        x,
        y,
        critic="concat",
        batch_size=32,
        steps=150,
        learning_rate=3e-3,
        hidden_dim=32,
        num_layers=1,
        verbose=0,
    )
    assert 0.8 < estimate <= math.log(32), estimate
    assert len(history["loss"]) == 150  # two passes over the 128 batches of data


def test_entropy_weight_sweep():
    # As beta grows the learned code entropy H^ falls and the bound degrades gracefully.
    steps = 150
    x, y = correlated_gaussians(4.0, steps * 64, dim=5, seed=3)
    bounds, entropies = [], []
    betas = (0.0, 0.01, 0.1, 1.0)
    for beta in betas:
        estimate, history = estimate_mutual_information(
            x,
            y,
            steps=steps,
            learning_rate=cosine(3e-3, steps),
            hidden_dim=64,
            num_layers=1,
            entropy_weight=beta,
            code_kwargs={"num_components": 4, "min_std": 0.05, "initial_std": 0.1},
            verbose=0,
        )
        bounds.append(estimate)
        if beta > 0:
            entropies.append(float(np.mean(history["code_entropy"][-steps // 10 :])))
        else:
            assert "code_entropy" not in history
    assert all(a > b + 0.5 for a, b in zip(entropies, entropies[1:])), entropies
    assert all(b <= a + 0.1 for a, b in zip(bounds, bounds[1:])), bounds
    assert bounds[1] > bounds[0] - 0.3, bounds  # a small beta costs little ...
    assert bounds[-1] < bounds[0] - 0.1, bounds  # ... a large one compresses the code


def test_zero_entropy_weight_is_plain_info_nce_exactly():
    x, y = correlated_gaussians(2.0, 64, dim=3, seed=4)
    inputs = {"x": x, "y": y}
    model = InfoNCEEstimator(SeparableCritic(embedding_dim=4, hidden_dim=8, seed=0))
    y_pred = model(inputs)
    assert not any(isinstance(layer, StochasticCode) for layer in model._flatten_layers())
    assert set(y_pred) == {"scores"}
    loss = model.compute_loss(x=inputs, y_pred=y_pred, training=False)
    expected = ops.mean(info_nce(model.critic((x, y))))
    assert float(loss) == float(expected)
    # And a beta > 0 model adds exactly beta * (H^(z_x) + H^(z_y)).
    coded = InfoNCEEstimator(model.critic, entropy_weight=0.5, seed=0)
    coded_pred = coded(inputs)
    assert isinstance(coded.x_code, StochasticCode) and isinstance(coded.y_code, StochasticCode)
    coded_loss = coded.compute_loss(x=inputs, y_pred=coded_pred, training=False)
    np.testing.assert_allclose(
        float(coded_loss),
        float(ops.mean(info_nce(coded_pred["scores"]))) + 0.5 * float(coded_pred["code_entropy"]),
        rtol=1e-6,
    )


def test_bad_input_raises():
    x = np.zeros((32, 2), "float32")
    with pytest.raises(ValueError, match=r"Expected .*same number of samples. Received 32 and 31"):
        estimate_mutual_information(x, x[:31], verbose=0)
    with pytest.raises(ValueError, match=r"Expected 2 <= `batch_size`.*Received batch_size=64"):
        estimate_mutual_information(x, x, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match=r"Expected `critic` to be .*Received 'bilinear'"):
        estimate_mutual_information(x, x, critic="bilinear", batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"Expected `x` of shape .*Received shape \(32, 2, 1\)"):
        estimate_mutual_information(x[..., None], x, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"Expected `entropy_weight` >= 0. Received"):
        estimate_mutual_information(x, x, batch_size=8, entropy_weight=-1.0, verbose=0)
