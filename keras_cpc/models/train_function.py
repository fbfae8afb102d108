"""The compiled training step of keras_cpc's models, where a backend compiles a better one.

`make_train_function(model, force)` builds ``model.train_function`` as Keras' own does, through
``train_function_<backend>.py`` next to this module where that backend has one (JAX: the state
in variable-path order), and returns False where Keras' own applies (every other backend, and
the cases the backend module leaves to Keras). Models call it from their
``make_train_function``.
"""

import importlib

import keras


def _backend_module():
    try:
        return importlib.import_module(f"{__name__}_{keras.backend.backend()}")
    except ModuleNotFoundError:
        return None


_MODULE = _backend_module()


def make_train_function(model, force=False):
    """Build ``model.train_function``; False where the caller should use Keras' own.

    Args:
        model: a compiled, built ``keras.Model``.
        force: rebuild even if ``model.train_function`` exists (Keras' argument).
    """
    return _MODULE is not None and _MODULE.make_train_function(model, force)
