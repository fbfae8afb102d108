"""PyTorch kernels for `native_layout` (imported only under the torch backend).

Activations stay NHWC tensors (Keras' layout); ``x.permute(0, 3, 1, 2)`` of a contiguous NHWC
tensor is an NCHW tensor in ``torch.channels_last`` memory without a copy, which is the layout
torch's CPU (oneDNN) and cuDNN convolutions run fastest on, and their output permuted back is
again a contiguous NHWC tensor. Keras instead copies to contiguous NCHW and back to
channels_last before every convolution. Batch norm uses torch's fused kernel (one pass for
the statistics and the normalisation, one fused backward) in place of Keras' op-by-op graph;
the moving statistics are updated exactly as Keras does, from the same biased batch variance.

Each function returns None for the cases it does not cover; the layer then runs Keras' own
``call``.
"""

import torch
import torch.nn.functional as F
from keras import ops

try:  # Keras exports StatelessScope, not the query; where it moves, always use `assign`.
    from keras.src.backend.common.stateless_scope import in_stateless_scope
except ImportError:  # pragma: no cover

    def in_stateless_scope():
        return True


def conv2d_padding(layer):
    """Torch's padding for ``layer`` (a Keras Conv2D), or None where the fast path does not
    apply (channels-first layers, "same" padding other than symmetric)."""
    if layer.data_format != "channels_last" or layer.rank != 2:
        return None
    if layer.padding == "valid":
        return (0, 0)
    # "same" equals symmetric padding only for stride 1 and odd kernel sizes.
    if all(s == 1 for s in layer.strides) and all(k % 2 == 1 for k in layer.kernel_size):
        return tuple(d * (k - 1) // 2 for k, d in zip(layer.kernel_size, layer.dilation_rate))
    return None


def prepare_conv2d(layer):
    """Store ``layer``'s kernel in the memory order torch's channels-last convolution reads.

    The kernel keeps Keras' shape (h, w, in, out) and values; only its strides change, to
    those of an (out, h, w, in) buffer, so ``kernel.permute(3, 2, 0, 1)`` is already an
    (out, in, h, w) tensor in ``torch.channels_last`` memory: no copy of every kernel on every
    call, and the weight gradient oneDNN writes in that order is accumulated without a copy
    back (a parameter's gradient takes the parameter's strides). Assigning, saving and
    loading go through the values, so saved weights are unchanged.
    """
    if conv2d_padding(layer) is None or in_stateless_scope():
        return
    kernel = layer.kernel.value
    if not isinstance(kernel, torch.Tensor) or kernel.ndim != 4:
        return
    with torch.no_grad():
        # `.data` swaps the storage under the same Parameter, which Keras and the module
        # tree keep referring to.
        kernel.data = kernel.data.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0)


def conv2d(layer, inputs, padding=None):
    """``layer(inputs)`` for NHWC ``inputs``, or None if `conv2d_padding` gives None.

    Args:
        layer: a Keras Conv2D.
        inputs: a torch tensor (batch, height, width, channels).
        padding: zero padding (height, width) applied before the layer's own, on both sides:
            a ZeroPadding2D folded into the convolution.
    """
    if conv2d_padding(layer) is None or inputs.ndim != 4:
        return None
    inputs = ops.convert_to_tensor(inputs)
    outputs = conv2d_channels_first(layer, inputs.permute(0, 3, 1, 2), padding)
    return outputs.permute(0, 2, 3, 1)


def conv2d_channels_first(layer, inputs, padding=None):
    """`conv2d` on an NCHW tensor (``torch.channels_last`` memory), giving NCHW.

    For callers that keep activations channels-first between layers (`graph_runner_torch`).

    Args:
        layer: a Keras Conv2D whose `conv2d_padding` is not None.
        inputs: a torch tensor (batch, channels, height, width).
        padding: as for `conv2d`.
    """
    own = conv2d_padding(layer)
    if padding is not None:
        own = tuple(a + b for a, b in zip(own, padding))
    # Cast here rather than rely on Keras' autocast scope: the graph runner (graph_runner_torch)
    # calls this without Layer.__call__.
    # (h, w, in, out) -> (out, in, h, w) in channels-last memory, the weight layout oneDNN's
    # channels-last kernels read fastest: a view where `prepare_conv2d` stored the kernel so
    # (`.to` keeps the strides), a small copy otherwise.
    kernel = layer.kernel.value.to(inputs.dtype).permute(3, 2, 0, 1)
    kernel = kernel.contiguous(memory_format=torch.channels_last)
    outputs = F.conv2d(
        inputs,
        kernel,
        layer.bias.value.to(inputs.dtype) if layer.use_bias else None,
        layer.strides,
        own,
        layer.dilation_rate,
        layer.groups,
    )
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def _channels_first(x):
    # (batch, ..., channels) -> (batch, channels, ...), a view.
    return x if x.ndim == 2 else x.movedim(-1, 1)


def batch_norm(layer, inputs, training):
    if inputs.ndim < 2:
        return None
    x = _channels_first(ops.convert_to_tensor(inputs))
    outputs = batch_norm_channels_first(layer, x, training)
    return outputs if outputs.ndim == 2 else outputs.movedim(1, -1)


def batch_norm_channels_first(layer, x, training, pending=None):
    """`batch_norm` on a (batch, channels, ...) tensor, giving the same layout.

    For callers that keep activations channels-first between layers (`graph_runner_torch`);
    ``layer._plain`` must hold for the channels-last input this stands for.

    Args:
        layer: a keras_cpc `BatchNormalization`.
        x: torch tensor (batch, channels, ...).
        training: whether to normalise with the batch statistics (and update the moving ones).
        pending: None (update the moving statistics now) or a list that collects
            ``(layer, mean, inv_std)`` for one `update_moving_statistics` call after the pass.
    """
    # Float32 parameters, as Keras computes batch norm in float32 for half-precision inputs;
    # torch's CPU and CUDA kernels accept bfloat16/float16 inputs with float32 parameters.
    gamma = layer.gamma.value if layer.scale else None
    beta = layer.beta.value if layer.center else None
    if training and layer.trainable:
        outputs, mean, inv_std = torch.ops.aten._native_batch_norm_legit(
            x, gamma, beta, True, 1.0 - layer.momentum, layer.epsilon
        )
        if pending is None:
            update_moving_statistics([(layer, mean, inv_std)])
        else:
            pending.append((layer, mean, inv_std))
    else:
        outputs = F.batch_norm(
            x,
            layer.moving_mean.value,
            layer.moving_variance.value,
            gamma,
            beta,
            False,
            0.0,
            layer.epsilon,
        )
    return outputs.to(getattr(torch, layer.compute_dtype))


def update_moving_statistics(pending):
    """Apply the moving-statistics updates `batch_norm_channels_first` collected.

    Keras' update, ``moving = moving * momentum + batch * (1 - momentum)`` from the biased
    batch variance, for every ``(layer, mean, inv_std)`` in ``pending``: in place, as a
    handful of ``torch._foreach_*`` calls for all layers instead of six small ops per layer
    (each paying torch's dispatch), except in a stateless scope (Keras' functional execution),
    which holds the variables' values and records each layer's ``assign``.

    Args:
        pending: list of ``(layer, mean, inv_std)``; emptied.
    """
    entries = list(pending)
    pending.clear()
    with torch.no_grad():
        if in_stateless_scope():
            for layer, mean, inv_std in entries:
                # The biased batch variance, as Keras' `ops.moments` gives it.
                variance = inv_std.pow(-2).sub_(layer.epsilon)
                for variable, value in (
                    (layer.moving_mean, mean),
                    (layer.moving_variance, variance),
                ):
                    variable.assign(
                        variable.value * layer.momentum + value * (1.0 - layer.momentum)
                    )
            return
        by_momentum = {}
        for entry in entries:
            by_momentum.setdefault(entry[0].momentum, []).append(entry)
        for momentum, group in by_momentum.items():
            moving = [layer.moving_mean.value for layer, _, _ in group]
            moving += [layer.moving_variance.value for layer, _, _ in group]
            variances = torch._foreach_pow([inv_std for _, _, inv_std in group], -2.0)
            torch._foreach_sub_(variances, [float(layer.epsilon) for layer, _, _ in group])
            batch = [mean for _, mean, _ in group] + list(variances)
            batch = [value.to(target.dtype) for value, target in zip(batch, moving)]
            torch._foreach_lerp_(moving, batch, 1.0 - momentum)


def match_slot_layouts(optimizer):
    """Store each optimizer slot (momentum, Adam's moments...) in its variable's memory order.

    Keras' torch optimizers update all variables at once with torch's multi-tensor
    (``torch._foreach_*``) kernels, which take their fast path only when the tensors of a call
    share strides. A kernel stored in the convolution's order (`prepare_conv2d`) next to a
    slot in default order sends the whole update down the per-tensor path: Keras' SGD with
    momentum took 53-56 ms per step for SimCLR's ResNet-18 at width 1 (11.5 M parameters),
    6 ms with matching slots, torch's own SGD 9 ms. Values are unchanged (the slots are
    copied), and assigning or loading them later copies into the same memory.

    Args:
        optimizer: a built Keras optimizer (a `LossScaleOptimizer`'s inner one is matched).
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    references = getattr(optimizer, "_trainable_variables", None)
    if not getattr(optimizer, "built", False) or not references:
        return
    # Slot lists hold one variable per trainable variable, in the same order (as Keras'
    # `_get_variable_index` reads them): SGD's `momentums`, Adam's `_momentums`...
    for slots in vars(optimizer).values():
        if not isinstance(slots, list) or len(slots) != len(references):
            continue
        for reference, slot in zip(references, slots):
            value, target = getattr(slot, "value", None), getattr(reference, "value", None)
            if (
                isinstance(value, torch.Tensor)
                and isinstance(target, torch.Tensor)
                and value.shape == target.shape
                and value.stride() != target.stride()
            ):
                with torch.no_grad():
                    value.data = torch.empty_like(target, dtype=value.dtype).copy_(value)
