"""`ContrastiveAccuracy`: top-1 accuracy of picking the positive among the candidates."""

import keras
from keras import ops

from keras_cpc.metrics._running_mean import _ElementwiseMean


@keras.saving.register_keras_serializable(package="keras_cpc")
class ContrastiveAccuracy(_ElementwiseMean):
    """Fraction of anchors whose highest-scoring candidate is their positive.

    Reads the logits a model already computed for its loss (one row per anchor); a masked
    self-similarity (as in `nt_xent_logits`) is never the argmax.

    Args:
        name: metric name, "contrastive_accuracy" by default.
        dtype: result dtype, float32.

    Example:
        >>> import numpy as np
        >>> metric = ContrastiveAccuracy()
        >>> metric.update_state(np.eye(4, dtype="float32"))  # positives on the diagonal
        >>> float(metric.result())
        1.0
    """

    def __init__(self, name="contrastive_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, logits, labels=None, sample_weight=None):
        """Add a batch of rows.

        Args:
            logits: (N, M) or (B, N, M) scores, one row per anchor.
            labels: integer column index of each row's positive, shape (N,) or (B, N);
                None means the diagonal (row i's positive is column i).
            sample_weight: optional weights broadcastable to the (N,) or (B, N) rows.
        """
        shape = tuple(logits.shape)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"Expected `logits` of rank 2 (N, M) or 3 (B, N, M). Received shape {shape}."
            )
        predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
        if labels is None:
            labels = ops.arange(ops.shape(logits)[-2], dtype="int32")
        labels = ops.cast(labels, "int32")
        correct = ops.cast(ops.equal(predicted, labels), "float32")
        self._accumulate(correct, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
