"""Preset directories: registry, resolution, integrity, safe load, atomic save, model cards.

Each model family registers its shipped presets from below (``register_presets`` in its
``*_presets.py``); this package never imports ``keras_cpc.models``. Modules: `layout` (file
names), `registry`, `resolve`, `integrity` (sha256), `serialization` (safe deserialisation),
`weights` (sharded weights, head variables), `atomic` (directory swap), `saving`, `loading`,
`card` (the model card).

The names below are loaded on first use (PEP 562): registering, listing and resolving presets
(`layout`, `registry`, `resolve`, `integrity`) is plain JSON and never imports keras, so the
``keras-cpc presets`` and ``info`` commands start without a backend; loading, saving and
(de)serialisation import keras when first asked for.

Example:
    >>> from keras_cpc.presets import list_presets  # no keras import
    >>> from keras_cpc.presets import load_backbone  # imports keras
"""

import importlib

# Public name -> the submodule that defines it.
_EXPORTS = {
    "model_card": "card",
    "probe_table_markdown": "card",
    "read_metadata": "integrity",
    "sha256_of": "integrity",
    "verified_file": "integrity",
    "CONFIG_FILE": "layout",
    "DEFAULT_MAX_SHARD_SIZE": "layout",
    "METADATA_FILE": "layout",
    "PRESETS_PATH_ENV": "layout",
    "README_FILE": "layout",
    "SHARDED_WEIGHTS_FILE": "layout",
    "TASK_CONFIG_FILE": "layout",
    "TASK_WEIGHTS_FILE": "layout",
    "WEIGHTS_FILE": "layout",
    "PresetExistsError": "layout",
    "TaskParts": "loading",
    "load_backbone": "loading",
    "load_task_parts": "loading",
    "class_matches": "registry",
    "list_presets": "registry",
    "register_presets": "registry",
    "registered_presets": "registry",
    "shipped_presets_dirs": "registry",
    "resolve_preset": "resolve",
    "input_spec_of": "saving",
    "save_preset": "saving",
    "deserialize": "serialization",
    "resolve_class": "serialization",
    "serialize": "serialization",
    "load_model_weights": "weights",
    "load_variables_h5": "weights",
    "save_variables_h5": "weights",
    "shard_names": "weights",
    "verified_weights": "weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    submodule = _EXPORTS.get(name)
    if submodule is None:
        raise AttributeError(
            f"module 'keras_cpc.presets' has no attribute {name!r}; expected one of "
            f"{', '.join(__all__)} or a submodule."
        )
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
