"""Preset directories: registry, resolution, integrity, safe load, atomic save, model cards.

Each model family registers its shipped presets from below (``register_presets`` in its
``*_presets.py``); this package never imports ``keras_cpc.models``. Modules: `layout` (file
names), `registry`, `resolve`, `integrity` (sha256), `serialization` (safe deserialisation),
`weights` (sharded weights, head variables), `atomic` (directory swap), `saving`, `loading`,
`card` (the model card).
"""

from keras_cpc.presets.card import model_card, probe_table_markdown
from keras_cpc.presets.integrity import read_metadata, sha256_of, verified_file
from keras_cpc.presets.layout import (
    CONFIG_FILE,
    DEFAULT_MAX_SHARD_SIZE,
    METADATA_FILE,
    PRESETS_PATH_ENV,
    README_FILE,
    SHARDED_WEIGHTS_FILE,
    TASK_CONFIG_FILE,
    TASK_WEIGHTS_FILE,
    WEIGHTS_FILE,
    PresetExistsError,
)
from keras_cpc.presets.loading import TaskParts, load_backbone, load_task_parts
from keras_cpc.presets.registry import (
    class_matches,
    list_presets,
    register_presets,
    registered_presets,
    shipped_presets_dirs,
)
from keras_cpc.presets.resolve import resolve_preset
from keras_cpc.presets.saving import input_spec_of, save_preset
from keras_cpc.presets.serialization import deserialize, resolve_class, serialize
from keras_cpc.presets.weights import (
    load_model_weights,
    load_variables_h5,
    save_variables_h5,
    shard_names,
    verified_weights,
)

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_MAX_SHARD_SIZE",
    "METADATA_FILE",
    "PRESETS_PATH_ENV",
    "PresetExistsError",
    "README_FILE",
    "SHARDED_WEIGHTS_FILE",
    "TASK_CONFIG_FILE",
    "TASK_WEIGHTS_FILE",
    "TaskParts",
    "WEIGHTS_FILE",
    "class_matches",
    "deserialize",
    "input_spec_of",
    "list_presets",
    "load_backbone",
    "load_model_weights",
    "load_task_parts",
    "load_variables_h5",
    "model_card",
    "probe_table_markdown",
    "read_metadata",
    "register_presets",
    "registered_presets",
    "resolve_class",
    "resolve_preset",
    "save_preset",
    "save_variables_h5",
    "serialize",
    "sha256_of",
    "shard_names",
    "shipped_presets_dirs",
    "verified_file",
    "verified_weights",
]
