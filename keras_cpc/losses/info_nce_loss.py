"""`InfoNCE` as a Keras `Loss` for `compile`."""

import numbers

import keras

from keras_cpc.losses.contrastive import info_nce
from keras_cpc.losses.label_free import LabelFreeLoss


@keras.saving.register_keras_serializable(package="keras_cpc")
class InfoNCE(LabelFreeLoss):
    """InfoNCE loss on a matrix of critic scores, for `model.compile(loss=InfoNCE())`.

    The model's output is the score matrix: (N, N) with ``scores[i, j] = s(z_j, w_i)`` and the
    positives on the diagonal, or (B, N, N); or, with an int ``positive_index``, any rows of
    candidates with the positive in that column. ``y_true`` is ignored (pass anything, e.g. zeros);
    the per-anchor losses of `info_nce` are reduced by ``reduction`` (mean by default), so the
    value is ``ln N - mi_lower_bound(scores)``.

    Args:
        positive_index: None (positives on the diagonal) or the column of every row's positive.
        reduction: Keras reduction over the per-anchor losses, default "sum_over_batch_size".
        name: loss name.
        dtype: dtype of the loss computation, float32 by default (also under mixed precision).

    Example:
        >>> import numpy as np
        >>> loss = InfoNCE()
        >>> value = loss(None, np.eye(4, dtype="float32"))
    """

    config_keys = ("positive_index",)

    def __init__(
        self, positive_index=None, reduction="sum_over_batch_size", name="info_nce", dtype=None
    ):
        if positive_index is not None:
            if not isinstance(positive_index, numbers.Integral) or isinstance(positive_index, bool):
                raise ValueError(
                    "Expected `positive_index` None (the diagonal) or an int column. Received "
                    f"{positive_index!r}."
                )
            positive_index = int(positive_index)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.positive_index = positive_index

    def call(self, y_true, y_pred):
        return info_nce(y_pred, positive_index=self.positive_index)
