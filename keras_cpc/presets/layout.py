"""What a preset directory holds: file names, the name pattern, and the JSON reader.

A preset is a directory::

    config.json        the serialised backbone (``keras.saving.serialize_keras_object``)
    model.weights.h5   backbone weights (Keras ``save_weights`` format), or, when they are larger
                       than ``max_shard_size``, model.weights.json (Keras' shard index, the
                       name keras-hub uses) plus model_00000.weights.h5, model_00001...
    metadata.json      versions, parameter count, input spec, preprocessing, sha256 of every
                       other file, ...
    README.md          model card
    task.json          (task presets only) classifier config without the backbone
    task.weights.h5    (task presets only) head weights, keyed by variable path
"""

import json
import re
from pathlib import Path

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
TASK_CONFIG_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PRESETS_PATH_ENV = "KERAS_CPC_PRESETS_PATH"

# Backbone weights larger than this many GiB (Keras' unit for ``max_shard_size``) are split into
# shards: 0.025 GiB (26.8 MB) keeps every file of a preset committable to a git repository.
DEFAULT_MAX_SHARD_SIZE = 0.025

# A preset *name* (and a shard file name) is one path component made of these characters
# (never "." or "..").
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class PresetExistsError(FileExistsError, ValueError):
    """``save_to_preset`` into an existing directory without ``overwrite=True``."""


def read_json(path):
    """Parsed contents of a JSON file; a parse failure names the file.

    Args:
        path: the file to read.

    Example:
        >>> config = read_json(preset_dir / CONFIG_FILE)
    """
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} must contain valid JSON; received a file that fails to parse ({error})."
        ) from None
