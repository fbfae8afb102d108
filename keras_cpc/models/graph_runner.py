"""Run a functional backbone's graph as a flat list of layer calls, where that is faster.

Keras executes a functional model node by node through each layer's ``__call__``. Two backends
gain from running the same graph another way, and ``graph_runner_<backend>.py`` next to this
module compiles it for them; `compile_graph` returns None on the others (TensorFlow) and the
model keeps Keras' own execution.

- PyTorch runs ``call`` eagerly on every step, and for a ResNet of about 70 layers Keras'
  per-layer machinery (input conversion, autocast and call-context scopes, argument binding)
  costs as much as the convolutions of a small model (about 0.1 ms per layer on these CPUs).
- JAX traces ``call`` once, so the machinery is free, but the program XLA gets matters: a
  ZeroPadding2D in front of a convolution (the official SimCLR's "fixed" padding of strided
  convolutions) is better folded into the convolution's own padding.

Both runners fold such paddings (`padding_to_fold`) and call every other layer as Keras does.

Example:
    >>> runner = compile_graph(encoder)  # a keras.Model(inputs, outputs={...}); may be None
    >>> outputs = runner(images, training=True) if runner else encoder(images, training=True)
"""

import collections
import inspect

import keras
from keras import layers

from keras_cpc.backend_module import for_backend
from keras_cpc.layers import native_layout


def compile_graph(model):
    """A function ``(inputs, training) -> outputs`` equal to ``model(inputs, training=...)``.

    Args:
        model: a functional ``keras.Model`` with one input, built from Keras and keras_cpc
            layers.

    Returns:
        The function, or None where the backend has no graph runner, where the runner would
        change nothing, or where the graph has something it does not cover (the caller then
        uses ``model`` itself).
    """
    module = for_backend(__name__)
    return None if module is None else module.compile_graph(model)


def read_graph(model):
    """``[(layer, argument, output_id)]`` in Keras' execution order, or None.

    None where the graph is not a chain of one-argument layer calls from one input (several
    inputs, keyword arguments, several outputs per layer).
    """
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


def producers_of(steps):
    """``{output_id: (layer, argument)}``: the step that computes each value."""
    return {output_id: (layer, argument) for layer, argument, output_id in steps}


def keras_call(layer):
    """``call(x, training)`` that calls ``layer`` as Keras' functional execution does."""
    if "training" in inspect.signature(layer.call).parameters:
        return lambda x, training: layer(x, training=training)
    return lambda x, training: layer(x)


def count_readers(steps, model):
    """How many steps (and model outputs) read each value, by ``id`` of its KerasTensor."""
    readers = collections.Counter()
    for _, argument, _ in steps:
        for tensor in keras.tree.flatten(argument):
            readers[id(tensor)] += 1
    for tensor in keras.tree.flatten(model.outputs):
        readers[id(tensor)] += 1
    return readers


def padding_to_fold(layer, argument, producers, readers):
    """The ZeroPadding2D step ``(padding_layer, its_argument)`` feeding ``layer``, if foldable.

    Foldable: ``layer`` is a keras_cpc `native_layout.Conv2D` (2-D, channels-last, "valid"
    padding) whose input is the output of a channels-last ZeroPadding2D that nothing else
    reads. The convolution then pads by itself and the ZeroPadding2D step can be dropped.

    Args:
        layer: the layer of a step.
        argument: its input (a KerasTensor).
        producers: ``{output_id: (layer, argument)}`` of the graph's steps.
        readers: `count_readers` of the graph.

    Returns:
        ``(padding_layer, argument)`` of the ZeroPadding2D step, or None.
    """
    conv = (
        isinstance(layer, native_layout.Conv2D)
        and layer.rank == 2
        and layer.data_format == "channels_last"
        and layer.padding == "valid"
    )
    source = producers.get(id(argument)) if conv else None
    if source is None or not isinstance(source[0], layers.ZeroPadding2D):
        return None
    if source[0].data_format != "channels_last" or readers[id(argument)] != 1:
        return None
    return source
