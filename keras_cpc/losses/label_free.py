"""`LabelFreeLoss`: the base of the contrastive `Loss` classes, whose labels are the layout."""

import keras


class LabelFreeLoss(keras.losses.Loss):
    """A `keras.losses.Loss` whose targets are implied by the layout of ``y_pred``.

    Contrastive losses know their positives from where they sit in ``y_pred`` (the diagonal, a
    column, the pairing of views), so ``y_true`` is ignored and may be None. A subclass names
    its own constructor arguments in ``config_keys``; `get_config` returns them with the
    `Loss` arguments.

    Example:
        >>> import numpy as np
        >>> class Mean(LabelFreeLoss):
        ...     def call(self, y_true, y_pred):
        ...         return keras.ops.mean(y_pred, axis=-1)
        >>> Mean()(None, np.ones((4, 3)))
    """

    config_keys = ()

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras' Loss converts y_true to a tensor; None stands for "implied by the layout".
        if y_true is None:
            y_true = 0.0
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = {key: getattr(self, key) for key in self.config_keys}
        config.update(name=self.name, reduction=self.reduction, dtype=self.dtype)
        return config
