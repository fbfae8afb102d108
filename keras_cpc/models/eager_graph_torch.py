"""PyTorch graph runner for `eager_graph` (imported only under the torch backend).

The functional graph is read once, when the model is built, into a flat list of steps in
Keras' own execution order. Layers that need nothing of ``Layer.__call__`` once built run their
kernels directly: keras_cpc's `native_layout` convolutions and batch norms (which cast their
variables themselves), and ReLU, Add and global average pooling (no variables). A ZeroPadding2D
whose only reader is such a convolution with "valid" padding is folded into it when the padding
is symmetric, as torch's convolution pads by itself. Every other layer is called as Keras calls
it (``layer(x, training=...)``), so the runner is exact for any graph; anything it cannot read
(several inputs, keyword arguments, several outputs per layer) makes `compile_graph` return
None and the model runs through Keras.
"""

import collections
import inspect

import keras
from keras import layers, ops

from keras_cpc.layers import native_layout, native_layout_torch

# Weightless layers whose `call` is the whole computation once the layer is built.
_DIRECT = (layers.ReLU, layers.Add, layers.GlobalAveragePooling2D)


def _takes_training(layer):
    return "training" in inspect.signature(layer.call).parameters


def _read_graph(model):
    """``[(layer, argument, output_id)]`` in execution order, or None."""
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None or len(model.inputs) != 1:
        return None
    steps = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input or not node.operation:
                continue
            arguments = node.arguments
            # Keras records the default ``mask=None`` of layers that take one.
            kwargs = {key: value for key, value in arguments.kwargs.items() if value is not None}
            if kwargs or len(arguments.args) != 1 or len(node.outputs) != 1:
                return None
            steps.append((node.operation, arguments.args[0], id(node.outputs[0])))
    return steps


def _symmetric(padding):
    # ZeroPadding2D's ((top, bottom), (left, right)) -> torch's (pad_h, pad_w), if symmetric.
    if all(begin == end for begin, end in padding):
        return tuple(begin for begin, _ in padding)
    return None


def _calls(steps, consumers):
    """One function ``(x, training) -> y`` per step, after folding paddings into convs."""
    producers = {output_id: (layer, argument) for layer, argument, output_id in steps}
    folded = set()
    calls = []
    for layer, argument, output_id in steps:
        if isinstance(layer, native_layout.Conv2D) and native_layout_torch.conv2d_padding(layer):
            source = producers.get(id(argument))
            pad = source and isinstance(source[0], layers.ZeroPadding2D)
            pad = pad and layer.padding == "valid" and consumers[id(argument)] == 1
            pad = pad and _symmetric(source[0].padding)
            if pad:
                folded.add(id(argument))
                argument = source[1]

            def call(x, training, layer=layer, pad=pad or None):
                return native_layout_torch.conv2d(layer, x, padding=pad)

        elif isinstance(layer, native_layout.BatchNormalization):

            def call(x, training, layer=layer):
                return layer.call(x, training=training)

        elif isinstance(layer, _DIRECT):

            def call(x, training, layer=layer):
                return layer.call(x)

        elif _takes_training(layer):

            def call(x, training, layer=layer):
                return layer(x, training=training)

        else:

            def call(x, training, layer=layer):
                return layer(x)

        calls.append((call, argument, output_id))
    return [step for step in calls if step[2] not in folded]


def compile_graph(model):
    steps = _read_graph(model)
    if steps is None:
        return None
    consumers = collections.Counter()
    for _, argument, _ in steps:
        for tensor in keras.tree.flatten(argument):
            consumers[id(tensor)] += 1
    for tensor in model.outputs:
        consumers[id(tensor)] += 1
    calls = _calls(steps, consumers)
    input_id, input_dtype = id(model.inputs[0]), model.inputs[0].dtype
    output = model.output

    def run(inputs, training=None):
        values = {input_id: ops.convert_to_tensor(inputs, dtype=input_dtype)}
        for call, argument, output_id in calls:
            x = keras.tree.map_structure(lambda tensor: values[id(tensor)], argument)
            values[output_id] = call(x, training)
        return keras.tree.map_structure(lambda tensor: values[id(tensor)], output)

    return run
