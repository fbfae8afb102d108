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
    if sampling == "same_sequence":
        u = keras.random.uniform(shape, seed=seed)
        upper = ops.maximum(lengths, 1)[:, None, None]
        rank = ops.minimum(ops.cast(u * ops.cast(upper, "float32"), "int32"), upper - 1)
        owner = ops.arange(batch, dtype="int32")[:, None, None]
        return owner * frames + rank
    return _uniform_frames(lengths, frames, shape, seed)


def _uniform_frames(lengths, frames, shape, seed):
    """Flat indices of ``shape`` frames drawn uniformly from the real frames of the batch."""
    u = keras.random.uniform(shape, seed=seed)
    # Draw a rank among the real frames, then find its clip (number of clip ends <= rank) and
    # its offset inside that clip.
    ends = ops.cumsum(lengths)
    total = ops.maximum(ends[-1], 1)
    rank = ops.minimum(ops.cast(u * ops.cast(total, "float32"), "int32"), total - 1)
    owner = ops.sum(ops.cast(rank[..., None] >= ends, "int32"), axis=-1)
    starts = ends - lengths
    offset = rank - ops.take(starts, owner)
    return owner * frames + offset


def sample_negative_bank(frame_lengths, frames, num_negatives, bank_size, seed=None):
    """Per-anchor negatives drawn through one candidate bank: ``(bank, slots)``.

    The bank holds ``bank_size`` frames drawn uniformly (with replacement) from the real frames
    of the whole batch; each anchor (b, t) takes ``num_negatives`` distinct bank positions at
    random. Distinct positions hold independent draws, so every anchor's negatives
    ``bank[slots[b, t]]`` are independent uniform draws from the batch's real frames: the
    distribution `sample_negatives` gives each anchor (``sampling="batch"``), and the same
    expected loss. Anchors share bank entries (they are not independent of each other), and
    scoring costs ``bank_size`` candidates per prediction instead of every frame of the batch
    (`cpc_scores` with ``bank=``).

    Args:
        frame_lengths: int tensor (B,), real frames of each clip.
        frames: number of frames T of the padded batch.
        num_negatives: negatives per anchor, at most ``bank_size``.
        bank_size: frames in the bank.
        seed: a `keras.random.SeedGenerator` (or int / None).

    Returns:
        ``bank`` int32 (bank_size,) flat indices into the ``B * frames`` frames, and
        ``slots`` int32 (B, T, num_negatives) positions in the bank.

    Example:
        >>> import numpy as np
        >>> bank, slots = sample_negative_bank(np.array([20, 3]), 20, 8, bank_size=16)
    """
    if not 1 <= num_negatives <= bank_size:
        raise ValueError(
            "Expected 1 <= num_negatives <= bank_size (each anchor takes distinct bank "
            f"positions); received num_negatives={num_negatives}, bank_size={bank_size}."
        )
    lengths = ops.cast(frame_lengths, "int32")
    bank = _uniform_frames(lengths, frames, (bank_size,), seed)
    batch = ops.shape(lengths)[0]
    # The positions of the num_negatives largest of bank_size uniforms: a uniform subset.
    u = keras.random.uniform((batch, frames, bank_size), seed=seed)
    slots = ops.cast(ops.top_k(u, num_negatives, sorted=False)[1], "int32")
    return bank, slots


class LinearPredictions:
    """Linear predictions p_{t,k} = c_t W_k kept as their factors (the paper's predictor).

    Scoring them against every frame as ``c_t (W_k z_m)`` takes ``F K C H + B T K F H``
    multiply-adds instead of ``B T H K C + B T K F C`` for computing p first (F frames, H
    context size < C code size): at the paper's shapes 4.8 G instead of 8.0 G. `cpc_scores`
    uses that where it scores every frame or a candidate bank; elsewhere it computes the
    predictions.

    Args:
        context: float (B, T, H) context vectors c_t.
        kernel: float (H, K * C) the predictor's weights [W_1 .. W_K] (no bias).
        steps: K.

    Example:
        >>> import numpy as np
        >>> p = LinearPredictions(np.ones((2, 5, 3), "float32"), np.ones((3, 8), "float32"), 2)
        >>> p.materialize().shape  # (B, T, K, C)
        (2, 5, 2, 4)
    """

    def __init__(self, context, kernel, steps):
        self.context = ops.cast(context, "float32")
        self.kernel = ops.cast(kernel, "float32")
        self.steps = steps
        self.hidden = self.kernel.shape[0]
        self.code_dim = self.kernel.shape[1] // steps

    def materialize(self):
        """The predictions, float32 (B, T, K, C)."""
        batch, frames = ops.shape(self.context)[0], ops.shape(self.context)[1]
        flat = ops.matmul(ops.reshape(self.context, (-1, self.hidden)), self.kernel)
        return ops.reshape(flat, (batch, frames, self.steps, self.code_dim))

    def scores_against(self, flat_z):
        """Scores (B, T, K, F) of every prediction against frames ``flat_z`` (F, C)."""
        batch, frames = ops.shape(self.context)[0], ops.shape(self.context)[1]
        scores = self.frame_major_scores(flat_z)  # (B * T, F, K)
        return ops.transpose(
            ops.reshape(scores, (batch, frames, ops.shape(flat_z)[0], self.steps)), (0, 1, 3, 2)
        )

    def frame_major_scores(self, flat_z):
        """Scores (B * T, F, K) of every prediction against frames ``flat_z`` (F, C).

        Frame-major: the K scores of one (anchor, frame) pair are contiguous, so picking an
        anchor's negatives gathers K-long rows (and its backward adds K-long rows) instead of
        K times as many single scores.
        """
        K, H = self.steps, self.hidden
        frames_count = ops.shape(flat_z)[0]
        # W_k z_m for every k and m: the kernel (H, K * C) is (H * K, C) as stored, so
        # (H * K, C) @ (C, F), then (H, F * K) for one matmul.
        projected = ops.matmul(ops.reshape(self.kernel, (H * K, -1)), ops.transpose(flat_z))
        projected = ops.reshape(
            ops.transpose(ops.reshape(projected, (H, K, frames_count)), (0, 2, 1)), (H, -1)
        )
        scores = ops.matmul(ops.reshape(self.context, (-1, H)), projected)
        return ops.reshape(scores, (-1, frames_count, K))

    def bank_scores(self, flat_z, positive_flat, bank, slots):
        """Positive (B, T, K) and negative (B, T, K, N) scores, negatives from a bank.

        ``W_k z_m`` for every frame (each frame is some anchor's positive), then every
        context against the bank's M frames only: ``F K C H + B T K M H`` multiply-adds instead
        of computing p (``B T H K C``) and scoring it against the bank (``B T K M C``); at the
        paper's shapes with M = F / 2, 3.2 G instead of 4.8 G.

        Args:
            flat_z: (F, C) frames.
            positive_flat: int (B, T, K) flat frame index of each positive.
            bank: int (M,) flat frame indices of the bank.
            slots: int (B, T, N) positions in the bank of each anchor's negatives.
        """
        K, H = self.steps, self.hidden
        batch, frames = ops.shape(self.context)[0], ops.shape(self.context)[1]
        anchors = batch * frames
        # Row m of (F, K * H) holds W_k z_m for every k: the kernel (H, K, C) as (C, K * H).
        kernel = ops.transpose(ops.reshape(self.kernel, (H, K, -1)), (2, 1, 0))
        projected = ops.matmul(flat_z, ops.reshape(kernel, (-1, K * H)))
        context = ops.reshape(self.context, (-1, H))
        # The positive of (anchor, k) is row (frame, k) of the (F * K, H) projections: a
        # gather of H-long rows, whose backward adds H-long rows.
        rows = ops.take(
            ops.reshape(projected, (-1, H)),
            ops.reshape(positive_flat * K + ops.arange(K, dtype="int32"), (-1,)),
            axis=0,
        )
        positives = ops.sum(ops.reshape(rows, (anchors, K, H)) * context[:, None, :], axis=-1)
        # Every anchor against the bank's rows in one matmul, (A, H) @ (H, M * K), then each
        # anchor's N K-long rows of the (A * M, K) result.
        bank_rows = ops.reshape(ops.take(projected, bank, axis=0), (-1, H))
        scores = ops.reshape(ops.matmul(context, ops.transpose(bank_rows)), (-1, K))
        size, num_negatives = bank.shape[0], slots.shape[-1]
        picked = ops.arange(anchors, dtype="int32")[:, None] * size + ops.reshape(
            slots, (anchors, num_negatives)
        )
        negatives = ops.take(scores, ops.reshape(picked, (-1,)), axis=0)
        negatives = ops.reshape(negatives, (batch, frames, num_negatives, K))
        return ops.reshape(positives, (batch, frames, K)), ops.transpose(negatives, (0, 1, 3, 2))


def _scores_every_frame(predictions, z, negative_indices):
    """Whether per-anchor negatives are scored by scoring every frame (then picking)."""
    if negative_indices.shape[1] == 1:
        return False  # one set per clip: scored directly
    if isinstance(predictions, LinearPredictions):
        (batch, frames), K = tuple(predictions.context.shape[:2]), predictions.steps
    else:
        batch, frames, K = predictions.shape[:3]
    clips, clip_frames = z.shape[:2]
    sizes = (batch, frames, clips, clip_frames)
    return None in sizes or batch * frames * K * clips * clip_frames <= _MAX_FULL_SCORES


def _pick_frame_major(scores, positive_flat, negative_indices):
    """Each anchor's positive (B, T, K) and negative (B, T, K, N) scores from ``scores``.

    Args:
        scores: (B * T, F, K) from `LinearPredictions.frame_major_scores`.
        positive_flat: int (B, T, K) flat frame index of each positive.
        negative_indices: int (B, T, N) flat frame indices of each anchor's negatives.
    """
    batch, frames, K = ops.shape(positive_flat)
    num_negatives = negative_indices.shape[-1]
    frames_count = ops.shape(scores)[1]
    # One gather of K-long rows (anchor, frame) of the (B * T * F, K) scores: the K rows of
    # the anchor's K positives, then its N negatives. One gather, so its backward is one
    # scatter-add into one zero tensor.
    frame = ops.concatenate(
        [
            ops.reshape(positive_flat, (-1, K)),
            ops.reshape(negative_indices, (-1, num_negatives)),
        ],
        axis=1,
    )
    anchor = ops.arange(batch * frames, dtype="int32")[:, None]
    rows = ops.take(
        ops.reshape(scores, (-1, K)), ops.reshape(anchor * frames_count + frame, (-1,)), axis=0
    )
    rows = ops.reshape(rows, (batch * frames, K + num_negatives, K))
    # Step k's positive is element k of the k-th positive row.
    positives = ops.sum(rows[:, :K, :] * ops.eye(K, dtype=rows.dtype), axis=1)
    negatives = ops.reshape(rows[:, K:, :], (batch, frames, num_negatives, K))
    return ops.reshape(positives, (batch, frames, K)), ops.transpose(negatives, (0, 1, 3, 2))


def _negative_scores(predictions, z, negative_indices, bank=None):
    """Scores (B, T, K, N) of every prediction against its anchor's negatives.

    With ``bank`` (M,) flat frame indices, ``negative_indices`` are positions in the bank.
    """
    batch, frames, K, code_dim = predictions.shape
    num_negatives = negative_indices.shape[-1]
    flat_z = ops.reshape(z, (-1, code_dim))
    if bank is None and negative_indices.shape[1] == 1:
        # One set of negatives per clip, shared by all its anchors.
        negatives = ops.take(flat_z, negative_indices[:, 0], axis=0)  # (B, N, C)
        return ops.einsum("btkc,bnc->btkn", predictions, negatives)
    if bank is not None or _scores_every_frame(predictions, z, negative_indices):
        # Score every prediction against every candidate (every frame of the batch, or the
        # bank's M frames: M / (B * T) of that cost) in one 2-D matmul, then pick each
        # anchor's columns. Faster than gathering a (B, T, N, C) tensor of negatives, whose
        # backward is a large scatter-add: with the paper's shapes (B=8, T=128, K=12, N=128,
        # C=512) forward+backward took ~2 s vs ~14 s on torch CPU and ~0.8 s vs ~1.3 s on JAX
        # CPU (shared, loaded 2-core machine). XLA's CPU einsum over (B, T, K, C) took ~1.8x
        # as long as the 2-D matmul.
        candidates = flat_z if bank is None else ops.take(flat_z, bank, axis=0)
        flat_predictions = ops.reshape(predictions, (-1, code_dim))
        all_scores = ops.reshape(
            ops.matmul(flat_predictions, ops.transpose(candidates)), (batch, frames, K, -1)
        )
        index = ops.broadcast_to(
            negative_indices[:, :, None, :], ops.shape(all_scores)[:3] + (num_negatives,)
        )
        return ops.take_along_axis(all_scores, index, axis=-1)
    negatives = ops.take(flat_z, negative_indices, axis=0)  # (B, T, N, C)
    return ops.einsum("btkc,btnc->btkn", predictions, negatives)


def cpc_scores(
    predictions,
    z,
    frame_mask,
    negative_indices,
    score="dot",
    negatives_from=None,
    first_clip=0,
    bank=None,
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
        bank: None, or int (M,) flat frame indices of a candidate bank
            (`sample_negative_bank`); ``negative_indices`` then hold positions in the bank.

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
    batch, frames, code_dim = ops.shape(z)[0], ops.shape(z)[1], ops.shape(z)[2]
    factored = isinstance(predictions, LinearPredictions)
    K = predictions.steps if factored else predictions.shape[2]
    frame_lengths = ops.sum(ops.cast(frame_mask, "int32"), axis=1)
    t = ops.arange(frames, dtype="int32")[:, None]
    k = ops.arange(1, K + 1, dtype="int32")[None, :]
    future = t + k  # (T, K)
    pair_mask = future[None] < frame_lengths[:, None, None]  # (B, T, K)
    inside = future < frames  # z_{t+k} exists (else its score is 0, as a zero frame's)
    future = ops.minimum(future, frames - 1)
    owner = ops.arange(batch, dtype="int32")[:, None, None]
    if negatives_from is not None:
        owner = owner + ops.cast(first_clip, "int32")
    positive_flat = owner * frames + future[None]  # (B, T, K)

    negative_indices = ops.cast(negative_indices, "int32")
    if bank is not None:
        bank = ops.cast(bank, "int32")
    all_z, all_mask = (z, frame_mask) if negatives_from is None else negatives_from
    all_z = ops.cast(all_z, "float32")
    if factored and bank is not None:
        positive_scores, negative_scores = predictions.bank_scores(
            ops.reshape(all_z, (-1, code_dim)),
            positive_flat,
            bank,
            negative_indices,
        )
        positive_scores = ops.where(inside[None], positive_scores, 0.0)
    elif factored and _scores_every_frame(predictions, all_z, negative_indices):
        # Every prediction against every frame, through the factors; the positive and the
        # negatives are columns of the result.
        all_scores = predictions.frame_major_scores(ops.reshape(all_z, (-1, code_dim)))
        positive_scores, negative_scores = _pick_frame_major(
            all_scores, positive_flat, negative_indices
        )
        positive_scores = ops.where(inside[None], positive_scores, 0.0)
    else:
        if factored:
            predictions = predictions.materialize()
        predictions = ops.cast(predictions, "float32")
        # z_{t+k} by shifting z left by k (zeros past the end, masked by pair_mask): slices
        # have a cheap backward, unlike a gather (whose backward is a scatter-add).
        padded_z = ops.pad(z, [[0, 0], [0, K], [0, 0]])
        positives = ops.stack(
            [ops.slice(padded_z, (0, k, 0), (batch, frames, code_dim)) for k in range(1, K + 1)],
            axis=2,
        )
        positive_scores = ops.sum(predictions * positives, axis=-1)  # (B, T, K)
        negative_scores = _negative_scores(predictions, all_z, negative_indices, bank)
    if bank is not None:  # from here on, the frames themselves
        negative_indices = ops.take(bank, negative_indices, axis=0)
    # Real candidates: a negative must be a real frame and not the positive itself.
    flat_valid = ops.reshape(all_mask, (-1,))
    negative_valid = ops.take(flat_valid, negative_indices, axis=0)[:, :, None, :]
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
