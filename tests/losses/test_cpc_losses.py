"""info_nce's positive_index layouts and the CPC loss module against NumPy references."""

import numpy as np
import pytest
from keras import ops

from keras_cpc.losses import InfoNCE, info_nce, mi_lower_bound, nt_xent_logits, nt_xent_per_anchor
from keras_cpc.losses.cpc import (
    LinearPredictions,
    cpc_info_nce,
    cpc_scores,
    sample_negative_bank,
    sample_negatives,
)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def _np_info_nce(scores, positive):
    m = scores.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(scores - m).sum(-1, keepdims=True)))[..., 0]
    return lse - positive


def test_positive_index_layouts_agree():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, 6, 6)).astype("float32")
    diagonal = _np(info_nce(scores))
    # Rolling each row so its positive lands in column 0 gives the same losses.
    rolled = np.stack([[np.roll(m[i], -i) for i in range(6)] for m in scores])
    np.testing.assert_allclose(_np(info_nce(rolled, positive_index=0)), diagonal, atol=1e-5)
    labels = np.tile(np.arange(6), (3, 1))
    np.testing.assert_allclose(_np(info_nce(scores, positive_index=labels)), diagonal, atol=1e-6)
    cpc = rng.normal(size=(2, 4, 3, 9)).astype("float32")
    np.testing.assert_allclose(
        _np(info_nce(cpc, positive_index=np.int64(0))), _np_info_nce(cpc, cpc[..., 0]), atol=1e-5
    )
    np.testing.assert_allclose(
        float(mi_lower_bound(cpc, positive_index=0)),
        np.log(9) - _np_info_nce(cpc, cpc[..., 0]).mean(),
        atol=1e-5,
    )
    logits, labels = nt_xent_logits(scores[0], scores[1], 0.5)
    np.testing.assert_allclose(
        _np(nt_xent_per_anchor(scores[0], scores[1], 0.5)),
        _np(info_nce(logits, positive_index=labels)),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match=r"in \[0, 9\).*Received positive_index=9"):
        info_nce(cpc, positive_index=9)
    with pytest.raises(ValueError, match=r"shape scores.shape\[:-1\].*Received shape \(5,\)"):
        info_nce(scores, positive_index=np.zeros(5, "int32"))
    with pytest.raises(ValueError, match="or pass `positive_index`"):
        info_nce(cpc)
    loss = InfoNCE(positive_index=0)
    assert InfoNCE.from_config(loss.get_config()).positive_index == 0
    np.testing.assert_allclose(float(loss(None, cpc)), _np_info_nce(cpc, cpc[..., 0]).mean(), 1e-5)


def test_cpc_scores_and_loss_match_numpy():
    rng = np.random.default_rng(1)
    B, T, K, C, N = 2, 5, 2, 3, 4
    predictions = rng.normal(size=(B, T, K, C)).astype("float32")
    z = rng.normal(size=(B, T, C)).astype("float32")
    frame_mask = np.ones((B, T), bool)
    frame_mask[1, 3:] = False  # clip 1 has 3 real frames
    negatives = rng.integers(0, B * T, size=(B, T, N)).astype("int32")
    out = cpc_scores(predictions, z, frame_mask, negatives, score="mean")
    scores, pair_mask = _np(out["scores"]), np.asarray(ops.convert_to_numpy(out["pair_mask"]))
    flat_z, lengths = z.reshape(-1, C), frame_mask.sum(1)
    for b in range(B):
        for t in range(T):
            for k in range(1, K + 1):
                assert pair_mask[b, t, k - 1] == (t + k < lengths[b])
                if not pair_mask[b, t, k - 1]:
                    continue
                p = predictions[b, t, k - 1]
                np.testing.assert_allclose(scores[b, t, k - 1, 0], p @ z[b, t + k] / C, 1e-5)
                for n, index in enumerate(negatives[b, t]):
                    real = frame_mask.reshape(-1)[index] and index != b * T + t + k
                    want = p @ flat_z[index] / C if real else -1e9
                    np.testing.assert_allclose(scores[b, t, k - 1, 1 + n], want, 1e-5)
    loss, per_pair, weights = cpc_info_nce(out["scores"], out["pair_mask"])
    per = _np_info_nce(scores, scores[..., 0])
    expected = sum(per[..., k][pair_mask[..., k]].mean() for k in range(K))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(_np(per_pair)[pair_mask], per[pair_mask], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(_np(weights), pair_mask.astype("float64"))
    indices = _np(sample_negatives(np.array([5, 3]), T, N, sampling="same_sequence", seed=0))
    assert indices.shape == (B, T, N)
    assert (indices[1] // T == 1).all() and (indices[1] % T < 3).all()


def test_linear_predictions_and_the_bank_score_what_the_predictions_score():
    rng = np.random.default_rng(2)
    B, T, K, C, H, N = 2, 6, 3, 4, 5, 4
    context = rng.normal(size=(B, T, H)).astype("float32")
    kernel = rng.normal(size=(H, K * C)).astype("float32")
    z = rng.normal(size=(B, T, C)).astype("float32")
    frame_mask = np.ones((B, T), bool)
    frame_mask[1, 4:] = False
    factored = LinearPredictions(context, kernel, K)
    predictions = (context.reshape(-1, H) @ kernel).reshape(B, T, K, C)
    np.testing.assert_allclose(_np(factored.materialize()), predictions, rtol=1e-5, atol=1e-5)
    every_frame = np.einsum("btkc,mc->btkm", predictions, z.reshape(-1, C))
    np.testing.assert_allclose(
        _np(factored.scores_against(z.reshape(-1, C))), every_frame, rtol=1e-4, atol=1e-4
    )
    for negatives in (
        rng.integers(0, B * T, (B, T, N)).astype("int32"),  # per anchor: scored via the factors
        rng.integers(0, B * T, (B, 1, N)).astype("int32"),  # per clip: from the predictions
    ):
        expected = cpc_scores(predictions, z, frame_mask, negatives)
        got = cpc_scores(factored, z, frame_mask, negatives)
        for name in ("scores", "candidate_mask", "pair_mask"):
            np.testing.assert_allclose(_np(got[name]), _np(expected[name]), rtol=1e-4, atol=1e-4)
    # Through a bank: slots index the bank, the scores are those of the frames they hold.
    bank, slots = sample_negative_bank(frame_mask.sum(1), T, N, bank_size=7, seed=3)
    bank, slots = np.asarray(ops.convert_to_numpy(bank)), np.asarray(ops.convert_to_numpy(slots))
    assert bank.shape == (7,) and slots.shape == (B, T, N)
    assert frame_mask.reshape(-1)[bank].all()  # only real frames
    assert all(len(set(row)) == N for row in slots.reshape(-1, N))  # distinct bank entries
    expected = cpc_scores(predictions, z, frame_mask, bank[slots])
    got = cpc_scores(predictions, z, frame_mask, slots, bank=bank)
    np.testing.assert_allclose(_np(got["scores"]), _np(expected["scores"]), rtol=1e-5, atol=1e-5)
    # The factors against the bank (only the bank's frames scored) give the same scores.
    got = cpc_scores(factored, z, frame_mask, slots, bank=bank)
    for name in ("scores", "candidate_mask", "pair_mask"):
        np.testing.assert_allclose(_np(got[name]), _np(expected[name]), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="num_negatives <= bank_size.*bank_size=3"):
        sample_negative_bank(frame_mask.sum(1), T, N, bank_size=3)
