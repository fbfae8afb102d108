"""Element-wise weighted running mean, the shared core of the contrastive metrics."""

import keras
from keras import ops


class _ElementwiseMean(keras.metrics.Metric):
    """Running mean over every element seen (each anchor counts once, whatever its batch)."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype or "float32")
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def _accumulate(self, values, sample_weight):
        values = ops.cast(values, "float32")
        if sample_weight is None:
            weights = ops.ones_like(values)
        else:
            weights = ops.cast(sample_weight, "float32")
            # Per-row weights of shape (N,) or (B, N) may come with a trailing axis of 1.
            if len(weights.shape) == len(values.shape) + 1 and weights.shape[-1] == 1:
                weights = ops.squeeze(weights, -1)
            weights = ops.broadcast_to(weights, ops.shape(values))
        self.total.assign_add(ops.sum(values * weights))
        self.count.assign_add(ops.sum(weights))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def result(self):
        return ops.divide_no_nan(self.total, self.count)
