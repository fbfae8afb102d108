"""Contrastive objectives: InfoNCE, its mutual-information bound, and NT-Xent.

All arithmetic runs in float32 whatever the inputs' dtype, so the losses stay finite under
``mixed_float16`` / ``mixed_bfloat16`` even at temperature 0.05 (logits of 1/0.05 = 20 and a
logsumexp over thousands of candidates overflow float16).
"""

import numbers

import numpy as np
from keras import ops


def static_shape(x):
    """The static shape of ``x`` as a tuple of ints / None (None where only known at run time).

    Example:
        >>> static_shape(np.zeros((2, 3)))
        (2, 3)
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    dims = []
    for dim in shape:
        # TensorShape dims and torch sizes become ints; unknown (traced) dims become None.
        try:
            dims.append(None if dim is None else int(dim))
        except TypeError:
            dims.append(None)
    return tuple(dims)


def _as_tensor(x):
    # Python lists get converted; numpy arrays and backend tensors pass through.
    if not hasattr(x, "shape"):
        x = ops.convert_to_tensor(x)
    return x


def _check_scores(scores):
    shape = static_shape(scores)
    if len(shape) not in (2, 3):
        raise ValueError(
            "Expected `scores` of rank 2 (N, N) or rank 3 (B, N, N) with the positives on the "
            f"diagonal (or pass `positive_index`). Received rank {len(shape)} with shape {shape}."
        )
    n_rows, n_cols = shape[-2], shape[-1]
    if n_rows is not None and n_cols is not None and n_rows != n_cols:
        raise ValueError(
            "Expected `scores` square in its last two axes (N candidates for N anchors, "
            f"positives on the diagonal). Received shape {shape}."
        )
    if n_cols == 0:
        raise ValueError(f"Expected at least one candidate in `scores`. Received shape {shape}.")
    return shape


def _check_temperature(temperature):
    # Tensors (e.g. a learned temperature) cannot be checked eagerly inside a traced step.
    if isinstance(temperature, (numbers.Real, np.ndarray)) and np.ndim(temperature) == 0:
        if not float(temperature) > 0:
            raise ValueError(f"Expected `temperature` > 0. Received temperature={temperature}.")


def _positive_scores(scores, positive_index, shape):
    """The score of each row's positive, shape ``scores.shape[:-1]``."""
    if positive_index is None:
        _check_scores(scores)
        return ops.diagonal(scores, axis1=-2, axis2=-1)
    if len(shape) < 1:
        raise ValueError(
            "Expected `scores` of rank >= 1 (one row of candidates per anchor). "
            f"Received shape {shape}."
        )
    if isinstance(positive_index, numbers.Integral) and not isinstance(positive_index, bool):
        index, columns = int(positive_index), shape[-1]
        if columns is not None and not -columns <= index < columns:
            raise ValueError(
                f"Expected `positive_index` in [0, {columns}) for scores with {columns} "
                f"candidates per row. Received positive_index={index}."
            )
        return scores[..., index]
    # One positive column per row (SimCLR's labels, e.g. from `nt_xent_logits`).
    index = _as_tensor(positive_index)
    index_shape = static_shape(index)
    compatible = len(index_shape) == len(shape) - 1 and all(
        a is None or b is None or a == b for a, b in zip(index_shape, shape[:-1])
    )
    if not compatible:
        raise ValueError(
            "Expected `positive_index` to be None (the diagonal), an int (the same column for "
            "every row) or an integer tensor of shape scores.shape[:-1] = "
            f"{shape[:-1]}. Received shape {index_shape}."
        )
    index = ops.cast(index, "int32")
    return ops.squeeze(ops.take_along_axis(scores, ops.expand_dims(index, -1), axis=-1), -1)


def info_nce(scores, positive_index=None):
    """Per-anchor InfoNCE loss ``-log softmax(scores[..., i, :])[positive of row i]``.

    One row of candidate scores per anchor; where the positive sits is given by
    ``positive_index``:

    * ``None`` (default): square (N, N) or (B, N, N) scores with ``scores[i, j] = s(z_j, w_i)``,
      the positive of anchor i on the diagonal (a critic scoring every pair, `keras_cpc.mi`).
    * an int: the same column in every row, e.g. 0 for CPC's (B, T, K, 1 + negatives) scores
      (positive first, then the negatives; masked candidates hold a large negative score).
    * an integer tensor of shape ``scores.shape[:-1]``: each row's positive column, e.g. the
      labels of `nt_xent_logits` (SimCLR).

    Both pretrainers compute their loss through this function; their metrics read the same
    per-anchor values.

    Args:
        scores: float tensor, one row of candidates per anchor (last axis). Any float dtype;
            computed in float32.
        positive_index: None, an int, or an integer tensor (see above).

    Returns:
        float32 tensor of shape ``scores.shape[:-1]``, each entry >= 0.

    Example:
        >>> import numpy as np
        >>> loss = info_nce(np.eye(4, dtype="float32") * 10.0)  # ~0 for a perfect critic
        >>> cpc = info_nce(np.zeros((2, 5, 3, 9), "float32"), positive_index=0)  # ln 9 each
    """
    scores = _as_tensor(scores)
    shape = static_shape(scores)
    scores = ops.cast(scores, "float32")
    positives = _positive_scores(scores, positive_index, shape)
    return ops.logsumexp(scores, axis=-1) - positives


def mi_lower_bound(scores, positive_index=None):
    """The InfoNCE lower bound on mutual information, ``ln N - mean(info_nce(scores))``, in nats.

    N is the number of candidates per row (the last axis). It never exceeds ``ln N``: each
    per-anchor loss is non-negative.

    Args:
        scores: critic scores, one row per anchor, as for `info_nce`.
        positive_index: where each row's positive is, as for `info_nce`.

    Returns:
        float32 scalar.

    Example:
        >>> import numpy as np
        >>> mi_lower_bound(np.zeros((8, 8), "float32"))  # 0 nats for an uninformative critic
    """
    scores = _as_tensor(scores)
    per_anchor = info_nce(scores, positive_index)
    n = static_shape(scores)[-1]
    if n is None:
        n = ops.shape(scores)[-1]
    log_n = ops.log(ops.cast(n, "float32"))
    return log_n - ops.mean(per_anchor)


def nt_xent_logits(z_a, z_b, temperature=0.5, candidates=None, first=0):
    """Logits and positive indices of SimCLR's NT-Xent over 2N views.

    Row i scores anchor i against all 2N views: its positive (the other view of the same image),
    2N - 2 negatives, and itself, masked out by subtracting 1e9 in float32 (exp underflows to
    exactly 0, so the softmax is over the 2N - 1 others; never a half-precision mask).

    In a data-parallel step, ``candidates=(all_a, all_b)`` are the global batch's M first and
    second views (`keras_cpc.distribute.all_gather`), of which ``z_a`` and ``z_b`` are rows
    ``first .. first + N - 1``: the rows are then this replica's 2N anchors scored against the
    2M global views (the official code's cross-replica negatives), and the logits are the
    matching rows of the single-device logits of the global batch.

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views (row i pairs with row i of `z_a`).
        temperature: positive float.
        candidates: None (the 2N views are all the candidates) or ``(all_a, all_b)``, (M, D)
            each, the global batch's views.
        first: with ``candidates``, the row of ``z_a[0]`` in ``all_a`` (int or scalar tensor).

    Returns:
        ``(logits, labels)``: float32 (2N, 2N) logits over the views ``concat([z_a, z_b])``
        and int32 (2N,) positive column indices (``i + N`` for ``i < N``, else ``i - N``);
        with ``candidates``, (2N, 2M) logits over ``concat([all_a, all_b])`` and the
        positives' columns there.

    Example:
        >>> import numpy as np
        >>> z = np.random.normal(size=(4, 8)).astype("float32")
        >>> logits, labels = nt_xent_logits(z, z, temperature=0.1)  # (8, 8), (8,)
    """
    z_a, z_b = _as_tensor(z_a), _as_tensor(z_b)
    shape_a, shape_b = static_shape(z_a), static_shape(z_b)
    if len(shape_a) != 2 or len(shape_b) != 2:
        raise ValueError(
            "Expected `z_a` and `z_b` of rank 2 (batch, features). Received shapes "
            f"{shape_a} and {shape_b}."
        )
    compatible = all(a is None or b is None or a == b for a, b in zip(shape_a, shape_b))
    if not compatible:
        raise ValueError(
            "Expected `z_a` and `z_b` of the same shape (row i of each are two views of one "
            f"example). Received {shape_a} and {shape_b}."
        )
    _check_temperature(temperature)
    z = _unit_rows(z_a, z_b)
    if candidates is not None:
        return _replica_logits(z, _unit_rows(*candidates), temperature, first)
    logits = ops.matmul(z, ops.transpose(z)) / ops.cast(temperature, "float32")
    two_n = ops.shape(logits)[0]
    n = two_n // 2
    logits = logits - 1e9 * ops.eye(two_n, dtype="float32")
    index = ops.arange(two_n, dtype="int32")
    labels = ops.where(index < n, index + n, index - n)
    return logits, labels


def _unit_rows(z_a, z_b):
    z = ops.concatenate([ops.cast(z_a, "float32"), ops.cast(z_b, "float32")], axis=0)
    # Cosine similarity; the clamp keeps an all-zero projection finite (0 instead of NaN).
    return z * ops.rsqrt(ops.maximum(ops.sum(ops.square(z), axis=-1, keepdims=True), 1e-24))


def _replica_logits(z, all_z, temperature, first):
    # Rows: this replica's anchors; columns: the global views. Anchor i's own column (masked)
    # and its positive's column sit at its global row, offset by `first`.
    logits = ops.matmul(z, ops.transpose(all_z)) / ops.cast(temperature, "float32")
    n, m = ops.shape(z)[0] // 2, ops.shape(all_z)[0] // 2
    index = ops.arange(2 * n, dtype="int32")
    own = ops.where(index < n, index, index - n + m) + ops.cast(first, "int32")
    logits = logits - 1e9 * ops.one_hot(own, 2 * m, dtype="float32")
    return logits, ops.where(index < n, own + m, own - m)


def nt_xent_per_anchor(z_a, z_b, temperature=0.5):
    """NT-Xent loss of each of the 2N anchors, float32 (2N,); `nt_xent` is its mean.

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views.
        temperature: positive float.

    Returns:
        float32 (2N,) per-anchor losses, ``-log softmax(logits[i])[labels[i]]``.
    """
    logits, labels = nt_xent_logits(z_a, z_b, temperature)
    return info_nce(logits, positive_index=labels)


def nt_xent(z_a, z_b, temperature=0.5):
    """SimCLR's normalised-temperature cross-entropy (NT-Xent) loss.

    Cosine similarities over the 2N views of N images; each of the 2N anchors has one positive
    and 2N - 2 negatives, and the loss is averaged over the 2N anchors. This is the scale of the
    paper's Algorithm 1 (initial value about ln(2N - 1)); the official TensorFlow code reports
    the sum of both directions, twice this value.

    Args:
        z_a: (N, D) projections of the first views.
        z_b: (N, D) projections of the second views (row i pairs with row i of `z_a`).
        temperature: positive float, 0.5 for SimCLR on CIFAR-10, 0.1 on ImageNet.

    Returns:
        float32 scalar.

    Example:
        >>> import numpy as np
        >>> z = np.random.normal(size=(8, 16)).astype("float32")
        >>> loss = nt_xent(z, z + 0.01, temperature=0.5)
    """
    return ops.mean(nt_xent_per_anchor(z_a, z_b, temperature))
