"""`NTXent` as a Keras `Loss` for `compile`."""

import keras
from keras import ops

from keras_cpc.losses.contrastive import _check_temperature, nt_xent_per_anchor, static_shape
from keras_cpc.losses.label_free import LabelFreeLoss


@keras.saving.register_keras_serializable(package="keras_cpc")
class NTXent(LabelFreeLoss):
    """SimCLR's NT-Xent loss as a Keras `Loss`, for `model.compile(loss=NTXent(0.5))`.

    The model's output holds both views' projections: either (2N, D) with the N first views
    followed by the N second views, or (N, 2, D). ``y_true`` is ignored. With the default
    reduction the value equals `nt_xent(z_a, z_b, temperature)`: averaged over the 2N anchors
    (the paper's Algorithm 1 scale, half the official code's reported value).

    Args:
        temperature: positive float, 0.5 for CIFAR-10, 0.1 for ImageNet.
        reduction: Keras reduction over the 2N per-anchor losses.
        name: loss name.
        dtype: dtype of the loss computation, float32 by default (also under mixed precision).

    Example:
        >>> import numpy as np
        >>> loss = NTXent(temperature=0.5)
        >>> value = loss(None, np.random.normal(size=(8, 16)).astype("float32"))
    """

    config_keys = ("temperature",)

    def __init__(
        self, temperature=0.5, reduction="sum_over_batch_size", name="nt_xent", dtype=None
    ):
        _check_temperature(temperature)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = temperature

    def call(self, y_true, y_pred):
        shape = static_shape(y_pred)
        if len(shape) == 3 and shape[1] == 2:
            z_a, z_b = y_pred[:, 0], y_pred[:, 1]
        elif len(shape) == 2 and (shape[0] is None or shape[0] % 2 == 0):
            n = ops.shape(y_pred)[0] // 2
            z_a, z_b = y_pred[:n], y_pred[n:]
        else:
            raise ValueError(
                "Expected `y_pred` of shape (2N, D) (first views then second views) or "
                f"(N, 2, D). Received shape {shape}."
            )
        return nt_xent_per_anchor(z_a, z_b, self.temperature)
