"""Conv2D and batch norm that run on the backend's fastest kernels, with Keras' weights.

`Conv2D` and `BatchNormalization` here are `keras.layers.Conv2D` and
`keras.layers.BatchNormalization` with the same arguments, variables, names and saved layout, so
presets stay portable across backends. They keep Keras' class names on purpose: Keras names a
model's layers in a weights file after their class (``layers/conv2d_3/vars/0``), so another name
would change the layout of every saved ResNet. Where a backend has a faster way to run them, a
module ``native_layout_<backend>.py`` next to this one provides it, and their ``call`` uses it;
where it has none (TensorFlow: Keras already reaches plain TensorFlow's speed) or where a case
is not covered (``return None``), Keras' own ``call`` runs.

On PyTorch, Keras' channels-last convolution copies its input to NCHW and back to
``torch.channels_last`` memory around every convolution, and its batch norm runs op by op.
``native_layout_torch`` keeps activations as NHWC tensors whose memory is what torch's kernels
want (a permuted view, no copy) and uses torch's fused batch norm. ``native_layout_jax``
computes the batch statistics in one fused reduction, as Flax does.

Example:
    >>> import numpy as np
    >>> conv = Conv2D(8, 3, padding="same", use_bias=False)
    >>> bn = BatchNormalization(momentum=0.9, epsilon=1e-5)
    >>> bn(conv(np.zeros((2, 16, 16, 3), "float32")), training=True).shape
    (2, 16, 16, 8)
"""

import keras

from keras_cpc.backend_module import for_backend

_KERNELS = for_backend(__name__)


@keras.saving.register_keras_serializable(package="keras_cpc")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (same arguments and weights) on the backend's native kernels."""

    def build(self, input_shape):
        super().build(input_shape)
        prepare = getattr(_KERNELS, "prepare_conv2d", None)
        if prepare is not None:
            prepare(self)

    def call(self, inputs):
        if _KERNELS is not None:
            outputs = _KERNELS.conv2d(self, inputs)
            if outputs is not None:
                return outputs
        return super().call(inputs)


@keras.saving.register_keras_serializable(package="keras_cpc")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (same arguments, weights and moving-statistics
    update) on the backend's fused kernel."""

    def _plain(self, inputs, mask):
        """Whether this call is plain batch norm over the last axis, the case the backend
        kernels cover: no mask, no renorm, no synchronised or replaced statistics (the
        data-parallel wiring replaces ``_moments`` or sets ``synchronized``)."""
        axis = self.axis if isinstance(self.axis, int) else None
        return (
            mask is None
            and axis in (-1, len(inputs.shape) - 1)
            and not self.renorm
            and not getattr(self, "synchronized", False)
            and "_moments" not in self.__dict__
        )

    def call(self, inputs, training=None, mask=None):
        if _KERNELS is not None and self._plain(inputs, mask):
            outputs = _KERNELS.batch_norm(self, inputs, training)
            if outputs is not None:
                return outputs
        return super().call(inputs, training=training, mask=mask)
