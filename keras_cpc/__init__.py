"""keras_cpc: contrastive self-supervised learning (CPC, SimCLR) for Keras 3.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).
"""

from keras_cpc import data, layers, losses, metrics, mi, models, optimizers  # noqa: E402,F401
from keras_cpc.presets import list_presets  # noqa: E402,F401
from keras_cpc.version import __version__  # noqa: F401
