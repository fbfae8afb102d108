"""CPC's K-step InfoNCE: negative sampling, scores of the prediction steps, and the loss.

`CPCPretrainer` calls these three functions in order (keras.ops only, any backend, traceable):
`sample_negatives` draws negative frames, `cpc_scores` scores every prediction p_{t,k} against
its positive z_{t+k} (column 0) and the negatives, and `cpc_info_nce` turns the scores into the
loss through `info_nce(scores, positive_index=0)`. The per-pair losses it returns are what the
metrics read, so nothing is computed twice.
"""

import keras
from keras import ops

from keras_cpc.losses.contrastive import info_nce

NEGATIVE_SAMPLING = ("batch", "same_sequence")
SCORES = ("dot", "mean")
# Finite float32 mask value: exp(-1e9 - max) is exactly 0, so masked candidates drop out.
MASKED_SCORE = -1e9
# Largest (B, T, K, B * T) score tensor built to pick negatives from (256 MB in float32).
_MAX_FULL_SCORES = 2**26


def sample_negatives(
    frame_lengths, frames, num_negatives, sampling="batch", shared=False, seed=None
):
    """Flat indices (into the batch's ``B * frames`` frames) of negatives drawn uniformly.

    Only real frames are drawn: ``"batch"`` draws from every clip of the batch, ``"same_sequence"``
    from the anchor's own clip. One set per anchor frame, or one per clip with ``shared=True``
    (then shared by all its anchors and prediction steps, as in CPC_audio).

    Args:
        frame_lengths: int tensor (B,), real frames of each clip.
        frames: number of frames T of the padded batch.
        num_negatives: negatives per anchor.
        sampling: ``"batch"`` or ``"same_sequence"``.
        shared: one set of negatives per clip instead of per frame.
        seed: a `keras.random.SeedGenerator` (or int / None) for `keras.random.uniform`.

    Returns:
        int32 tensor (B, T, num_negatives), or (B, 1, num_negatives) when ``shared``.

    Example:
        >>> import numpy as np
        >>> indices = sample_negatives(np.array([20, 3]), 20, num_negatives=8)  # (2, 20, 8)
    """
    if sampling not in NEGATIVE_SAMPLING:
        raise ValueError(
            f"Expected `sampling` in {NEGATIVE_SAMPLING}. Received sampling={sampling!r}."
        )
    lengths = ops.cast(frame_lengths, "int32")
    batch = ops.shape(lengths)[0]
    shape = (batch, 1 if shared else frames, num_negatives)
    u = keras.random.uniform(shape, seed=seed)
    if sampling == "same_sequence":
        upper = ops.maximum(lengths, 1)[:, None, None]
        rank = ops.minimum(ops.cast(u * ops.cast(upper, "float32"), "int32"), upper - 1)
        owner = ops.arange(batch, dtype="int32")[:, None, None]
        return owner * frames + rank
    # Uniform over the real frames of the whole batch: draw a rank among them, then find its
    # clip (number of clip ends <= rank) and its offset inside that clip.
    ends = ops.cumsum(lengths)
    total = ops.maximum(ends[-1], 1)
    rank = ops.minimum(ops.cast(u * ops.cast(total, "float32"), "int32"), total - 1)
    owner = ops.sum(ops.cast(rank[..., None] >= ends, "int32"), axis=-1)
    starts = ends - lengths
    offset = rank - ops.take(starts, owner)
    return owner * frames + offset


def _negative_scores(predictions, z, negative_indices):
    """Scores (B, T, K, N) of every prediction against its anchor's negatives."""
    batch, frames, K, code_dim = predictions.shape
    num_negatives = negative_indices.shape[-1]
    flat_z = ops.reshape(z, (-1, code_dim))
    clips = z.shape[0]  # the candidates' clips: the global batch when gathered
    if negative_indices.shape[1] == 1:
        # One set of negatives per clip, shared by all its anchors.
        negatives = ops.take(flat_z, negative_indices[:, 0], axis=0)  # (B, N, C)
        return ops.einsum("btkc,bnc->btkn", predictions, negatives)
    sizes = (batch, frames, clips)
    if None in sizes or batch * frames * K * clips * frames <= _MAX_FULL_SCORES:
        # Score every prediction against every frame of the batch (one dense matmul), then
        # pick the negatives' columns. Faster than gathering a (B, T, N, C) tensor of
        # negatives, whose backward is a large scatter-add: with the paper's shapes (B=8,
        # T=128, K=12, N=128, C=512) forward+backward took ~2 s vs ~14 s on torch CPU and
        # ~0.8 s vs ~1.3 s on JAX CPU (shared, loaded 2-core machine).
        all_scores = ops.einsum("btkc,mc->btkm", predictions, flat_z)
        index = ops.broadcast_to(
            negative_indices[:, :, None, :], ops.shape(all_scores)[:3] + (num_negatives,)
        )
        return ops.take_along_axis(all_scores, index, axis=-1)
    negatives = ops.take(flat_z, negative_indices, axis=0)  # (B, T, N, C)
    return ops.einsum("btkc,btnc->btkn", predictions, negatives)


def cpc_scores(
    predictions, z, frame_mask, negative_indices, score="dot", negatives_from=None, first_clip=0
):
    """Scores of every prediction p_{t,k}: its positive z_{t+k} in column 0, then negatives.

    A pair (t, k) is valid when frame t + k is a real frame of the clip. A negative counts as a
    candidate when it is a real frame and not the positive itself; other candidates hold
    ``MASKED_SCORE`` (-1e9, exactly 0 after the softmax).

    In a data-parallel step the negatives come from the global batch: ``negatives_from`` is
    its ``(z, frame_mask)`` (`keras_cpc.distribute.all_gather`), ``negative_indices`` index
    its frames and ``first_clip`` is the global index of this replica's first clip.

    Args:
        predictions: float (B, T, K, C) predictions of the K future codes from each c_t.
        z: float (B, T, C) frame codes.
        frame_mask: bool (B, T), True on real frames (right-padded clips).
        negative_indices: int (B, T, N) or (B, 1, N) flat indices into the B * T frames.
        score: ``"dot"`` (the paper's z^T p) or ``"mean"`` (divided by C, CPC_audio).
        negatives_from: None (negatives from this batch) or the global ``(z, frame_mask)``.
        first_clip: with ``negatives_from``, the global index of this batch's first clip.

    Returns:
        dict with ``scores`` float32 (B, T, K, 1 + N), ``pair_mask`` bool (B, T, K) and
        ``candidate_mask`` bool (B, T, K, 1 + N).

    Example:
        >>> import numpy as np
        >>> p, z = np.ones((2, 5, 3, 4), "float32"), np.ones((2, 5, 4), "float32")
        >>> out = cpc_scores(p, z, np.ones((2, 5), bool), np.zeros((2, 5, 6), "int32"))
    """
    if score not in SCORES:
        raise ValueError(f"Expected `score` in {SCORES}. Received score={score!r}.")
    z = ops.cast(z, "float32")
    predictions = ops.cast(predictions, "float32")
    batch, frames, code_dim = ops.shape(z)[0], ops.shape(z)[1], ops.shape(z)[2]
    K = predictions.shape[2]
    frame_lengths = ops.sum(ops.cast(frame_mask, "int32"), axis=1)
    t = ops.arange(frames, dtype="int32")[:, None]
    k = ops.arange(1, K + 1, dtype="int32")[None, :]
    future = t + k  # (T, K)
    pair_mask = future[None] < frame_lengths[:, None, None]  # (B, T, K)
    future = ops.minimum(future, frames - 1)
    # z_{t+k} by shifting z left by k (zeros past the end, masked by pair_mask): slices have a
    # cheap backward, unlike a gather (whose backward is a scatter-add).
    padded_z = ops.pad(z, [[0, 0], [0, K], [0, 0]])
    positives = ops.stack(
        [ops.slice(padded_z, (0, k, 0), (batch, frames, code_dim)) for k in range(1, K + 1)],
        axis=2,
    )
    positive_scores = ops.sum(predictions * positives, axis=-1)  # (B, T, K)

    negative_indices = ops.cast(negative_indices, "int32")
    all_z, all_mask = (z, frame_mask) if negatives_from is None else negatives_from
    negative_scores = _negative_scores(predictions, ops.cast(all_z, "float32"), negative_indices)
    # Real candidates: a negative must be a real frame and not the positive itself.
    flat_valid = ops.reshape(all_mask, (-1,))
    negative_valid = ops.take(flat_valid, negative_indices, axis=0)[:, :, None, :]
    owner = ops.arange(batch, dtype="int32")[:, None, None]
    if negatives_from is not None:
        owner = owner + ops.cast(first_clip, "int32")
    positive_flat = owner * frames + future[None]  # (B, T, K)
    negative_valid = ops.logical_and(
        negative_valid, ops.not_equal(negative_indices[:, :, None, :], positive_flat[..., None])
    )
    scores = ops.concatenate([positive_scores[..., None], negative_scores], axis=-1)
    candidate_mask = ops.concatenate(
        [ops.ones_like(negative_valid[..., :1]), negative_valid], axis=-1
    )
    if score == "mean":
        scores = scores / ops.cast(code_dim, "float32")
    scores = ops.where(candidate_mask, scores, MASKED_SCORE)
    return {"scores": scores, "pair_mask": pair_mask, "candidate_mask": candidate_mask}


def cpc_info_nce(scores, pair_mask, sample_weight=None, global_sum=None):
    """CPC's loss: InfoNCE averaged over the valid (t, k) pairs of each step, summed over k.

    As in the paper and CPC_audio. Each row's loss is `info_nce` with the positive in column 0.

    Args:
        scores: (B, T, K, 1 + N) scores from `cpc_scores` (positive in column 0).
        pair_mask: bool (B, T, K), the valid pairs.
        sample_weight: optional (B,) weight of each clip.
        global_sum: None, or in a data-parallel step a function summing a tensor over the
            replicas (`keras_cpc.distribute.all_sum`): each step's average then divides by
            the global batch's weight, and the replicas' losses add up to the global loss.

    Returns:
        ``(loss, per_pair, weights)``: float32 scalar loss, float32 (B, T, K) per-pair InfoNCE
        and float32 (B, T, K) weights (0 on invalid pairs), for the metrics.

    Example:
        >>> import numpy as np
        >>> loss, per_pair, weights = cpc_info_nce(
        ...     np.zeros((2, 5, 3, 9), "float32"), np.ones((2, 5, 3), bool))  # loss 3 ln 9
    """
    per_pair = info_nce(scores, positive_index=0)  # (B, T, K)
    weights = ops.cast(pair_mask, "float32")
    if sample_weight is not None:
        weights = weights * ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1, 1))
    per_step_weight = ops.sum(weights, axis=(0, 1))  # (K,)
    if global_sum is not None:
        per_step_weight = global_sum(per_step_weight)
    per_step_loss = ops.divide_no_nan(ops.sum(per_pair * weights, axis=(0, 1)), per_step_weight)
    return ops.sum(per_step_loss), per_pair, weights
