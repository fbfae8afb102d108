"""JAX graph runner for `graph_runner` (imported only under the JAX backend).

JAX traces a model's ``call`` once, so Keras' per-layer machinery costs nothing per step; what
this runner changes is the program XLA compiles. A ZeroPadding2D whose only reader is a "valid"
keras_cpc convolution (`graph_runner.padding_to_fold`: the official SimCLR's fixed padding of
every strided convolution) is folded into the convolution's own padding, which
``lax.conv_general_dilated`` takes explicitly, as Flax's ``nn.Conv`` does. Left as a separate
pad, XLA computes that convolution's input gradient at the padded size and slices it, and
makes a second transposed copy of the padded activations for the kernel gradient. Every other
layer is called as Keras calls it. A graph with nothing to fold is left to Keras
(`compile_graph` returns None).
"""

import keras
from keras import ops

from keras_cpc.layers import native_layout_jax
from keras_cpc.models import graph_runner


def compile_graph(model):
    steps = graph_runner.read_graph(model)
    if steps is None:
        return None
    readers = graph_runner.count_readers(steps, model)
    producers = graph_runner.producers_of(steps)
    folded, calls = set(), []
    for layer, argument, output_id in steps:
        source = graph_runner.padding_to_fold(layer, argument, producers, readers)
        if source is None:
            calls.append((graph_runner.keras_call(layer), argument, output_id))
            continue
        padding_layer, argument_before = source
        folded.add(id(argument))

        def call(x, training, layer=layer, padding=padding_layer.padding):
            return native_layout_jax.conv2d(layer, x, padding=padding)

        calls.append((call, argument_before, output_id))
    if not folded:
        return None
    calls = [step for step in calls if step[2] not in folded]
    input_id, input_dtype = id(model.inputs[0]), model.inputs[0].dtype
    output = model.output

    def run(inputs, training=None):
        values = {input_id: ops.convert_to_tensor(inputs, dtype=input_dtype)}
        for call, argument, output_id in calls:
            x = keras.tree.map_structure(lambda tensor: values[id(tensor)], argument)
            values[output_id] = call(x, training)
        return keras.tree.map_structure(lambda tensor: values[id(tensor)], output)

    return run
