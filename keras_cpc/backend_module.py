"""`for_backend(name)`: the ``<name>_<backend>`` module next to a module, where there is one.

keras_cpc keeps backend-specific code in one small module per backend next to the code that
needs it (`layers/native_layout_torch.py`, `models/graph_runner_jax.py`, ...); the generic
module asks for its backend's with ``for_backend(__name__)`` instead of testing the backend.
"""

import importlib

import keras


def for_backend(name):
    """The module ``f"{name}_{keras.backend.backend()}"``, or None where there is none.

    Only that module's absence gives None; an import error inside it propagates.

    Args:
        name: a module's dotted name, usually the caller's ``__name__``.

    Example:
        >>> kernels = for_backend("keras_cpc.layers.native_layout")  # None on TensorFlow
    """
    target = f"{name}_{keras.backend.backend()}"
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        if error.name != target:
            raise
        return None
