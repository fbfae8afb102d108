"""`MILowerBound`: the InfoNCE bound on mutual information, in nats, as a running metric."""

import keras
from keras import ops

from keras_cpc.metrics._running_mean import _ElementwiseMean


@keras.saving.register_keras_serializable(package="keras_cpc")
class MILowerBound(_ElementwiseMean):
    """Running mean of ``ln(num_candidates) - loss`` over anchors: the InfoNCE MI bound in nats.

    Fed with the per-anchor InfoNCE losses a model already computed (nothing is recomputed),
    its result is ``ln N - mean(L)``, the bound ``I(z, w) >= ln N - L`` of the CPC paper; it
    never exceeds ``ln N``. Not meant for `compile(metrics=...)` (that passes y_true, y_pred):
    call `update_state` from a model's `compute_loss`.

    Args:
        name: metric name, "mi_lower_bound" by default (the key in `fit`'s history).
        dtype: result dtype, float32.

    Example:
        >>> import numpy as np
        >>> from keras_cpc.losses import info_nce
        >>> scores = np.random.normal(size=(16, 16)).astype("float32")
        >>> metric = MILowerBound()
        >>> metric.update_state(info_nce(scores), num_candidates=16)
        >>> bound = metric.result()  # == mi_lower_bound(scores)
    """

    def __init__(self, name="mi_lower_bound", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, per_anchor_loss, num_candidates, sample_weight=None):
        """Add a batch of per-anchor losses.

        Args:
            per_anchor_loss: (N,) or (B, N) InfoNCE losses, e.g. `info_nce(scores)`.
            num_candidates: number of candidates each anchor was scored against (the N of
                ``ln N``): a python int or a tensor broadcastable to `per_anchor_loss`.
            sample_weight: optional weights broadcastable to `per_anchor_loss`.
        """
        loss = ops.cast(per_anchor_loss, "float32")
        log_n = ops.log(ops.cast(num_candidates, "float32"))
        self._accumulate(log_n - loss, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
