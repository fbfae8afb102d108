"""JAX kernels for `native_layout` (imported only under the JAX backend).

Convolutions: Keras' own (``lax.conv_general_dilated`` in NHWC, as Flax's), except where the
graph runner (`keras_cpc.models.graph_runner_jax`) folds a ZeroPadding2D into one: then the
same call with that explicit padding. Batch norm in
training: Keras takes the batch variance as ``mean((x - mean(x))**2)``, which XLA computes in
passes that each read the activations; here, as in Flax, the mean and the mean of squares come
from one fused reduction, variance = E[y^2] - E[y]^2 of y = x - shift, with the shift a value
inside the data so that the difference does not cancel. The moving statistics and the
normalisation are Keras'.
"""

import jax.numpy as jnp
from jax import lax


def conv2d(layer, inputs, padding=None):
    """``layer(inputs)`` with the ZeroPadding2D ``padding`` folded in, or None (Keras' own).

    Args:
        layer: a Keras Conv2D, channels-last, "valid" padding.
        inputs: NHWC array, before the padding.
        padding: None, or ((top, bottom), (left, right)) zeros added around ``inputs``.
    """
    if padding is None:
        return None
    # Cast here rather than rely on Keras' autocast scope: the graph runner calls this without
    # Layer.__call__.
    dtype = layer.compute_dtype
    outputs = lax.conv_general_dilated(
        inputs.astype(dtype),
        layer.kernel.value.astype(dtype),
        window_strides=tuple(layer.strides),
        padding=tuple(tuple(int(p) for p in pair) for pair in padding),
        rhs_dilation=tuple(layer.dilation_rate),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=layer.groups,
    )
    if layer.use_bias:
        outputs = outputs + layer.bias.value.astype(dtype)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def batch_norm(layer, inputs, training):
    # Inference is Keras' own (no statistics to compute).
    if not (training and layer.trainable):
        return None
    # Float32 statistics for half-precision inputs, as Keras.
    x = inputs.astype(jnp.float32) if inputs.dtype != jnp.float32 else inputs
    axes = tuple(range(x.ndim - 1))
    # Shifted by a value inside the data (the first example's mean per channel): the same
    # one-pass sums, without E[x^2] - E[x]^2's cancellation when |mean| >> std.
    shift = lax.stop_gradient(jnp.mean(x[0], axis=tuple(range(x.ndim - 2))))
    centred = x - shift
    shifted_mean = jnp.mean(centred, axis=axes)
    mean = shifted_mean + shift
    variance = jnp.maximum(jnp.mean(jnp.square(centred), axis=axes) - jnp.square(shifted_mean), 0.0)
    momentum = layer.momentum
    layer.moving_mean.assign(layer.moving_mean.value * momentum + mean * (1.0 - momentum))
    layer.moving_variance.assign(
        layer.moving_variance.value * momentum + variance * (1.0 - momentum)
    )
    scale = lax.rsqrt(variance + layer.epsilon)
    if layer.scale:
        scale = scale * layer.gamma.value
    offset = -mean * scale
    if layer.center:
        offset = offset + layer.beta.value
    return (x * scale + offset).astype(layer.compute_dtype)
