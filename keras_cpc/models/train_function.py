"""The compiled training step of keras_cpc's models, where a backend compiles a better one.

`make_train_function(model, force)` builds ``model.train_function`` as Keras' own does, through
``train_function_<backend>.py`` next to this module where that backend has one (JAX: the state
in variable-path order), and returns False where Keras' own applies (TensorFlow, the cases the
backend module leaves to Keras, and PyTorch, whose module only gives the optimizer's slots the
memory order of their variables first). Models call it from their ``make_train_function``.
"""

from keras_cpc.backend_module import for_backend

_MODULE = for_backend(__name__)


def make_train_function(model, force=False):
    """Build ``model.train_function``; False where the caller should use Keras' own.

    Args:
        model: a compiled, built ``keras.Model``.
        force: rebuild even if ``model.train_function`` exists (Keras' argument).
    """
    return _MODULE is not None and _MODULE.make_train_function(model, force)
