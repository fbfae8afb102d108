"""Run a functional backbone's layers directly where the backend executes eagerly.

TensorFlow and JAX trace a model's ``call`` once per input signature, so Keras' per-layer call
machinery (input conversion, autocast and call-context scopes, argument binding) costs nothing
per step there. PyTorch runs ``call`` eagerly on every step, and for a ResNet of about 70 layers
that machinery costs as much as the convolutions of a small model (about 0.1 ms per layer on
these CPUs). ``eager_graph_<backend>.py`` next to this module, where it exists, compiles a
functional model's graph into a flat list of layer calls; `compile_graph` returns None on the
other backends and the model keeps Keras' own graph execution.

Example:
    >>> runner = compile_graph(encoder)  # a keras.Model(inputs, outputs={...}); None off torch
    >>> outputs = runner(images, training=True) if runner else encoder(images, training=True)
"""

import importlib

import keras


def _backend_module():
    try:
        return importlib.import_module(f"{__name__}_{keras.backend.backend()}")
    except ModuleNotFoundError:
        return None


def compile_graph(model):
    """A function ``(inputs, training) -> outputs`` equal to ``model(inputs, training=...)``.

    Args:
        model: a functional ``keras.Model`` with one input, built from Keras and keras_cpc
            layers.

    Returns:
        The function, or None where the backend has no eager graph runner or the graph has
        something it does not cover (the caller then uses ``model`` itself).
    """
    module = _backend_module()
    return None if module is None else module.compile_graph(model)
