"""info_nce / mi_lower_bound / nt_xent against a NumPy reference, across backends, and bounds."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_cpc.losses import info_nce, mi_lower_bound, nt_xent, nt_xent_logits
from tests.helpers import assert_matches_golden


def np_logsumexp(a, axis=-1):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def np_info_nce(scores):
    scores = np.asarray(scores, "float64")
    return np_logsumexp(scores) - np.diagonal(scores, axis1=-2, axis2=-1)


def np_mi_lower_bound(scores):
    return math.log(scores.shape[-1]) - np_info_nce(scores).mean()


def np_nt_xent(z_a, z_b, temperature):
    z = np.concatenate([z_a, z_b]).astype("float64")
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    n2 = len(z)
    sim = z @ z.T / temperature
    losses = []
    for i in range(n2):
        positive = (i + n2 // 2) % n2
        others = [sim[i, j] for j in range(n2) if j != i]
        losses.append(np_logsumexp(np.array(others)) - sim[i, positive])
    return float(np.mean(losses))


def to_np(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def random_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "scores": (3.0 * rng.normal(size=(16, 16))).astype("float32"),
        "scores_batched": (3.0 * rng.normal(size=(4, 8, 8))).astype("float32"),
        "z_a": rng.normal(size=(6, 5)).astype("float32"),
        "z_b": rng.normal(size=(6, 5)).astype("float32"),
    }


def test_info_nce_matches_numpy_2d_and_batched():
    data = random_inputs()
    for key in ("scores", "scores_batched"):
        np.testing.assert_allclose(
            to_np(info_nce(data[key])), np_info_nce(data[key]), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(
            float(mi_lower_bound(data[key])), np_mi_lower_bound(data[key]), atol=1e-5
        )
    # Batched input equals scoring each matrix on its own.
    stacked = np.stack([to_np(info_nce(m)) for m in data["scores_batched"]])
    np.testing.assert_allclose(to_np(info_nce(data["scores_batched"])), stacked, atol=1e-6)


@pytest.mark.parametrize("temperature", [0.5, 0.1, 0.05])
def test_nt_xent_matches_numpy(temperature):
    data = random_inputs()
    got = float(nt_xent(data["z_a"], data["z_b"], temperature))
    np.testing.assert_allclose(got, np_nt_xent(data["z_a"], data["z_b"], temperature), atol=1e-5)


def test_nt_xent_logits_layout():
    data = random_inputs()
    logits, labels = nt_xent_logits(data["z_a"], data["z_b"], 0.5)
    assert tuple(logits.shape) == (12, 12) and tuple(labels.shape) == (12,)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    np.testing.assert_array_equal(ops.convert_to_numpy(labels), np.r_[6:12, 0:6])
    # Self-similarity never wins the softmax, even for identical views.
    assert (np.argmax(to_np(logits), -1) != np.arange(12)).all()


def test_nt_xent_identical_views_beat_random_views():
    data = random_inputs()
    aligned = float(nt_xent(data["z_a"], data["z_a"], 0.1))
    unrelated = float(nt_xent(data["z_a"], data["z_b"], 0.1))
    assert aligned < unrelated
    # Initial scale of Algorithm 1: about ln(2N - 1) for uninformative projections.
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 256, 64)).astype("float32")
    assert abs(float(nt_xent(z[0], z[1], 100.0)) - math.log(511)) < 0.01


def test_backends_agree_through_golden_values():
    data = random_inputs()
    assert_matches_golden(
        "losses_contrastive",
        {
            "info_nce": info_nce(data["scores"]),
            "info_nce_batched": info_nce(data["scores_batched"]),
            "mi_lower_bound": mi_lower_bound(data["scores"]),
            "nt_xent_0.5": nt_xent(data["z_a"], data["z_b"], 0.5),
            "nt_xent_0.05": nt_xent(data["z_a"], data["z_b"], 0.05),
        },
        rtol=1e-5,
        atol=1e-5,
    )


def test_bound_never_exceeds_log_n_on_random_scores():
    rng = np.random.default_rng(1)
    # Few distinct shapes (JAX compiles once per shape), many scales within each.
    for n in (1, 3, 64):
        for trial in range(8):
            scale = float(10.0 ** rng.uniform(-2, 3))
            scores = (scale * rng.normal(size=(n, n))).astype("float32")
            if trial % 3 == 0:  # a critic that nails every positive
                scores += np.float32(1e3) * np.eye(n, dtype="float32")
            bound = float(mi_lower_bound(scores))
            assert bound <= math.log(n) + 1e-6, (n, scale, bound)
            assert (to_np(info_nce(scores)) >= -1e-6).all()


def conditional_log_density_scores(rng, mi, batches, batch_size=64, dim=20):
    """Scores of the optimal critic ln p(y_i | x_j) on Poole et al.'s correlated Gaussians."""
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    x = rng.normal(size=(batches, batch_size, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.normal(size=x.shape)
    diff = y[:, :, None, :] - rho * x[:, None, :, :]  # [b, i, j] = y_i - rho x_j
    return (-0.5 * (diff**2).sum(-1) / (1.0 - rho**2)).astype("float32")


@pytest.mark.parametrize("mi, anchor, anchor_std", [(2.0, 1.824, 0.189), (10.0, 4.123, 0.034)])
def test_optimal_critic_matches_poole_anchor(mi, anchor, anchor_std):
    # Anchors: reference/cpc.md section 4.3 (mean +- std over 400 batches of 64, d = 20).
    batches = 300
    scores = conditional_log_density_scores(np.random.default_rng(7), mi, batches)
    per_batch = math.log(64) - to_np(info_nce(scores)).mean(-1)
    np.testing.assert_allclose(float(mi_lower_bound(scores)), per_batch.mean(), atol=1e-5)
    standard_error = math.sqrt(per_batch.var(ddof=1) / batches + anchor_std**2 / 400)
    assert abs(per_batch.mean() - anchor) < 3 * standard_error, (per_batch.mean(), anchor)
    assert per_batch.max() <= math.log(64)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 4), ()])
def test_scores_of_wrong_rank_raise(shape):
    with pytest.raises(ValueError, match=r"Expected .*rank.*Received"):
        info_nce(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=r"Expected .*Received"):
        mi_lower_bound(np.zeros(shape, "float32"))


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_non_square_scores_raise(shape):
    with pytest.raises(ValueError, match=r"Expected .*square.*Received shape \("):
        info_nce(np.zeros(shape, "float32"))


def test_bad_nt_xent_inputs_raise():
    z = np.zeros((4, 3), "float32")
    with pytest.raises(ValueError, match=r"Expected .*same shape.*Received \(4, 3\) and \(5, 3\)"):
        nt_xent(z, np.zeros((5, 3), "float32"))
    with pytest.raises(ValueError, match=r"Expected .*rank 2.*Received shapes"):
        nt_xent(np.zeros((4,), "float32"), np.zeros((4,), "float32"))
    for temperature in (0.0, -0.5):
        with pytest.raises(ValueError, match=r"Expected `temperature` > 0. Received"):
            nt_xent(z, z, temperature)
        with pytest.raises(ValueError, match=r"Expected `temperature` > 0. Received"):
            nt_xent_logits(z, z, temperature)
