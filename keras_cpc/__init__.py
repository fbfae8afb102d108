"""keras_cpc: contrastive self-supervised learning (CPC, SimCLR) for Keras 3.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).

Subpackages (``keras_cpc.models``, ``keras_cpc.layers``, ...) are imported on first use
(PEP 562), so ``import keras_cpc`` and `list_presets` load no backend: the ``keras-cpc
presets`` command answers in a fraction of a second. Importing a subpackage that builds models
imports keras, as before.

Example:
    >>> import keras_cpc
    >>> sorted(keras_cpc.list_presets())  # no backend imported yet
    >>> backbone = keras_cpc.models.ResNetBackbone.from_preset("simclr_resnet18_cifar10_cpu")
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from keras_cpc.version import __version__

_SUBPACKAGES = (
    "data",
    "distribute",
    "evaluation",
    "layers",
    "losses",
    "metrics",
    "mi",
    "models",
    "optimizers",
    "presets",
    "training",
)

__all__ = ["__version__", "list_presets", "register_shipped_presets", *_SUBPACKAGES]

# Family preset files already executed by `register_shipped_presets`.
_REGISTERED_FILES = set()


def register_shipped_presets():
    """Register every model family's shipped presets without importing ``keras_cpc.models``.

    Each family declares its presets in ``keras_cpc/models/<family>/<family>_presets.py``, a
    module of plain dicts that imports only ``keras_cpc.presets.registry``. Importing it the
    ordinary way would first run ``keras_cpc/models/__init__.py``, which imports keras and a
    backend (seconds); so a family file not imported yet is executed on its own, which only
    fills the registry. When the family is imported later, its file registers the same entries
    again, which the registry accepts as a reload.

    Example:
        >>> import keras_cpc
        >>> keras_cpc.register_shipped_presets()
        >>> sorted(keras_cpc.presets.registered_presets())
    """
    for path in sorted(Path(__file__).parent.glob("models/*/*_presets.py")):
        name = f"{__name__}.models.{path.parent.name}.{path.stem}"
        if name in sys.modules or path in _REGISTERED_FILES:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        # Not put in sys.modules: the package above it is not imported, and an ordinary import
        # later must still find and bind the module normally.
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        _REGISTERED_FILES.add(path)


def list_presets(backbone_cls=None):
    """`keras_cpc.presets.list_presets` (same arguments and result) after
    `register_shipped_presets`, so that listing imports no backend and no model module."""
    from keras_cpc.presets.registry import list_presets as registry_listing

    register_shipped_presets()
    return registry_listing(backbone_cls)


def __getattr__(name):
    if name not in _SUBPACKAGES:
        raise AttributeError(
            f"module 'keras_cpc' has no attribute {name!r}; expected one of {', '.join(__all__)}."
        )
    # import_module binds the subpackage as an attribute here, so this runs once per name.
    return importlib.import_module(f"{__name__}.{name}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
