"""Seeded splits and epoch orders.

The held-out splits of the shipped presets were made with `stratified_holdout` (seed 0): its
arithmetic and random draws must stay exactly as they are.
"""

import numpy as np


def stratified_holdout(labels, fraction, seed):
    """Hold out ``fraction`` of each class (at least one item), seeded.

    Args:
        labels: one label per item (any sortable values).
        fraction: share of each class held out, in (0, 1).
        seed: seed of the per-class shuffles.

    Returns:
        ``(train_indices, holdout_indices)``: sorted int arrays.

    Example:
        >>> train, holdout = stratified_holdout([0, 0, 1, 1, 1, 1], 0.25, seed=0)
    """
    labels = np.asarray(labels)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"The held-out fraction must be in (0, 1); received {fraction!r}.")
    rng = np.random.default_rng(seed)
    train, holdout = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        count = max(1, int(round(fraction * len(members))))
        holdout.extend(members[:count])
        train.extend(members[count:])
    return np.sort(np.asarray(train, dtype=int)), np.sort(np.asarray(holdout, dtype=int))


def subset(indices, limit, seed):
    """At most ``limit`` of ``indices``: a seeded random choice, kept in sorted order.

    Example:
        >>> subset(np.arange(100), 10, seed=0).shape
        (10,)
    """
    if limit is None or limit >= len(indices):
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(indices, size=limit, replace=False))


def parse_range(text):
    """Integers named by ``"5-9"``, ``"3"`` or ``"5-9,12"``, sorted and without repeats.

    Example:
        >>> parse_range("5-7,12")
        [5, 6, 7, 12]
    """
    values = set()
    for part in str(text).split(","):
        low, dash, high = part.strip().partition("-")
        try:
            low, high = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(
                f"Expected ranges such as '5-9' or '5-9,12'; received {text!r}."
            ) from None
        if high < low:
            raise ValueError(f"Expected ranges written low-high; received {part.strip()!r}.")
        values.update(range(low, high + 1))
    return sorted(values)


def full_batch_steps(count, batch_size, steps_per_epoch, what):
    """Steps per epoch of full batches (``steps_per_epoch`` or one pass); refuses too few items.

    Example:
        >>> full_batch_steps(1000, 256, None, "images")
        3
    """
    if count // batch_size < 1:
        raise ValueError(
            f"Need at least one full batch: batch size {batch_size} but only {count} {what}."
        )
    return steps_per_epoch or count // batch_size


def epoch_order(rng, count, steps, batch_size):
    """Row order for ``steps`` full batches: as many fresh permutations as needed, joined.

    Example:
        >>> order = epoch_order(np.random.default_rng(0), 10, steps=3, batch_size=4)
    """
    reps = -(-steps * batch_size // count)
    return np.concatenate([rng.permutation(count) for _ in range(reps)])


class EpochOrders:
    """The row order of every epoch, a pure function of ``(seed, epoch)``.

    Epoch ``e``'s order is the ``e``-th `epoch_order` drawn from ``default_rng(seed)``: the
    stream the example scripts used before (so their runs repeat), made addressable by
    epoch so that a resumed run sees the batches an uninterrupted run would.

    Args:
        count: number of rows.
        steps: full batches per epoch.
        batch_size: rows per batch.
        seed: seed of the stream.

    Example:
        >>> orders = EpochOrders(10, steps=2, batch_size=4, seed=0)
        >>> orders.order(3)[:4]
    """

    def __init__(self, count, steps, batch_size, seed):
        self.count, self.steps, self.batch_size, self.seed = count, steps, batch_size, seed
        self._rng, self._epoch, self._order = None, -1, None

    def order(self, epoch):
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError(f"Expected an epoch >= 0; received {epoch}.")
        if epoch < self._epoch or self._rng is None:  # going back: replay from the seed
            self._rng, self._epoch = np.random.default_rng(self.seed), -1
        while self._epoch < epoch:  # cheap: one permutation per epoch skipped
            self._order = epoch_order(self._rng, self.count, self.steps, self.batch_size)
            self._epoch += 1
        return self._order
