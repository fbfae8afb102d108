"""PyTorch graph runner for `graph_runner` (imported only under the torch backend).

The functional graph is read once, when the model is built, into a flat list of steps in
Keras' own execution order. Layers that need nothing of ``Layer.__call__`` once built run their
kernels directly: keras_cpc's `native_layout` convolutions and batch norms (which cast their
variables themselves), and ReLU, Add and global average pooling (no variables). A ZeroPadding2D
whose only reader is such a convolution with "valid" padding (`graph_runner.padding_to_fold`)
is folded into it when the padding is symmetric, as torch's convolution pads by itself. Every
other layer is called as Keras calls it (``layer(x, training=...)``), so the runner is exact
for any graph; anything it cannot read (several inputs, keyword arguments, several outputs per
layer) makes `compile_graph` return None and the model runs through Keras.
"""

import keras
from keras import layers, ops

from keras_cpc.layers import native_layout, native_layout_torch
from keras_cpc.models import graph_runner

# Weightless elementwise layers whose `call` is the whole computation once the layer is built:
# they run on any layout (their output has their inputs' layout).
_ELEMENTWISE = (layers.ReLU, layers.Add)
# Activations a channels-first convolution may apply (elementwise).
_ELEMENTWISE_ACTIVATIONS = (keras.activations.linear, keras.activations.relu)
NHWC, NCHW = "nhwc", "nchw"


def _symmetric(padding):
    # ZeroPadding2D's ((top, bottom), (left, right)) -> torch's (pad_h, pad_w), if symmetric.
    if all(begin == end for begin, end in padding):
        return tuple(begin for begin, _ in padding)
    return None


def _channels_first_conv(layer):
    return (
        isinstance(layer, native_layout.Conv2D)
        and native_layout_torch.conv2d_padding(layer) is not None
        and layer.activation in _ELEMENTWISE_ACTIVATIONS
    )


def _channels_first_batch_norm(layer, argument):
    # 4-D channels-last input, and the case the fused kernel covers.
    return (
        isinstance(layer, native_layout.BatchNormalization)
        and len(argument.shape) == 4
        and layer._plain(argument, None)
    )


def _channels_first_pooling(layer):
    return (
        isinstance(layer, layers.GlobalAveragePooling2D)
        and layer.data_format == "channels_last"
        and not layer.keepdims
    )


def _calls(steps, readers):
    """``(call, argument, output_id, layout)`` per step, after folding paddings into convs.

    ``call(x, training, pending)`` takes its 4-D inputs in ``layout``: NCHW (in
    ``torch.channels_last`` memory: what torch's convolution and batch-norm kernels run fastest
    on, and the layout of their outputs) for the layers run here directly, NHWC (Keras' layout)
    for layers called through Keras. The runner permutes (a view) only where the layout changes,
    so a ResNet's activations stay NCHW from its first convolution to its pooling. Batch norms
    add their moving-statistics updates to the pass's ``pending`` list, applied together after
    the pass.
    """
    producers = graph_runner.producers_of(steps)
    folded = set()
    calls = []
    for layer, argument, output_id in steps:
        layout = NHWC
        if _channels_first_conv(layer):
            source = graph_runner.padding_to_fold(layer, argument, producers, readers)
            pad = source and _symmetric(source[0].padding)
            if pad:
                folded.add(id(argument))
                argument = source[1]
            layout = NCHW

            def call(x, training, pending, layer=layer, pad=pad or None):
                return native_layout_torch.conv2d_channels_first(layer, x, padding=pad)

        elif _channels_first_batch_norm(layer, argument):
            layout = NCHW

            def call(x, training, pending, layer=layer):
                return native_layout_torch.batch_norm_channels_first(layer, x, training, pending)

        elif isinstance(layer, _ELEMENTWISE):
            layout = NCHW

            def call(x, training, pending, layer=layer):
                return layer.call(x)

        elif _channels_first_pooling(layer):
            layout = NCHW

            def call(x, training, pending):
                return x.mean(dim=(2, 3))

        else:
            keras_call = graph_runner.keras_call(layer)

            def call(x, training, pending, keras_call=keras_call):
                return keras_call(x, training)

        calls.append((call, argument, output_id, layout))
    return [step for step in calls if step[2] not in folded]


def _in_layout(value, layout):
    """A stored ``(tensor, layout)`` as a tensor in ``layout`` (a permuted view if needed)."""
    tensor, stored = value
    if tensor.ndim != 4 or stored == layout:
        return tensor
    return tensor.permute(0, 3, 1, 2) if layout == NCHW else tensor.permute(0, 2, 3, 1)


def _reader(argument, layout):
    """``read(values)``: the step's argument from the stored values, in ``layout``."""
    if isinstance(argument, (list, tuple)):
        ids = [id(tensor) for tensor in argument]
        return lambda values: [_in_layout(values[i], layout) for i in ids]
    if keras.tree.is_nested(argument):
        return lambda values: keras.tree.map_structure(
            lambda tensor: _in_layout(values[id(tensor)], layout), argument
        )
    tensor_id = id(argument)
    return lambda values: _in_layout(values[tensor_id], layout)


def compile_graph(model):
    steps = graph_runner.read_graph(model)
    if steps is None:
        return None
    calls = _calls(steps, graph_runner.count_readers(steps, model))
    input_id, input_dtype = id(model.inputs[0]), model.inputs[0].dtype
    output = model.output
    # Drop each value after its last reader, as eager PyTorch code does, instead of holding
    # every activation the backward does not need to the end of the pass (a higher peak).
    kept = {id(tensor) for tensor in keras.tree.flatten(output)}
    last_reader = {}
    for index, (_, argument, _, _) in enumerate(calls):
        for tensor in keras.tree.flatten(argument):
            last_reader[id(tensor)] = index
    released = [[] for _ in calls]
    for tensor_id, index in last_reader.items():
        if tensor_id not in kept:
            released[index].append(tensor_id)
    steps = [
        (call, _reader(argument, layout), output_id, layout, done)
        for (call, argument, output_id, layout), done in zip(calls, released)
    ]

    def run(inputs, training=None):
        values = {input_id: (ops.convert_to_tensor(inputs, dtype=input_dtype), NHWC)}
        pending = []
        for call, read, output_id, layout, done in steps:
            values[output_id] = (call(read(values), training, pending), layout)
            for tensor_id in done:
                del values[tensor_id]
        native_layout_torch.update_moving_statistics(pending)
        return keras.tree.map_structure(lambda tensor: _in_layout(values[id(tensor)], NHWC), output)

    return run
