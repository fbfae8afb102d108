"""Saving a backbone (and optionally a task head) as a preset directory, atomically."""

import datetime
import json
from pathlib import Path

import keras

from keras_cpc.presets.atomic import write_directory
from keras_cpc.presets.card import model_card
from keras_cpc.presets.integrity import sha256_of
from keras_cpc.presets.layout import (
    CONFIG_FILE,
    DEFAULT_MAX_SHARD_SIZE,
    METADATA_FILE,
    README_FILE,
    TASK_CONFIG_FILE,
    TASK_WEIGHTS_FILE,
)
from keras_cpc.presets.serialization import serialize
from keras_cpc.presets.weights import save_backbone_weights, save_variables_h5
from keras_cpc.version import __version__


def input_spec_of(backbone):
    """What the backbone takes as input, read from its config (for ``metadata.json``).

    Args:
        backbone: a backbone whose config has ``sample_rate`` (audio) or ``image_shape``.

    Example:
        >>> input_spec_of(cpc_backbone)
        {'modality': 'audio', 'sample_rate': 8000, 'channels': 1}
    """
    config = backbone.get_config()
    if "sample_rate" in config:
        return {"modality": "audio", "sample_rate": config["sample_rate"], "channels": 1}
    if "image_shape" in config:
        return {
            "modality": "image",
            "image_shape": list(config["image_shape"]),
            "pixel_range": [0, 255],
        }
    return {}


def save_preset(
    path,
    backbone,
    overwrite=False,
    metadata=None,
    task=None,
    readme=None,
    max_shard_size=DEFAULT_MAX_SHARD_SIZE,
    card_sections=None,
    name=None,
):
    """Write a preset directory atomically (layout in `keras_cpc.presets.layout`).

    Files go to a staging sibling that replaces ``path`` only once complete (an atomic swap
    where the OS has one), so ``path`` holds a complete preset, old or new, at every moment and
    after any interruption. Staging folders left by killed saves are removed, and the preset
    folder gets the permissions of a plain ``mkdir`` (0o777 & ~umask).

    Args:
        path: target directory.
        backbone: the `Backbone` to save.
        overwrite: replace an existing directory at ``path``; otherwise refuse.
        metadata: extra metadata merged into ``metadata.json``: ``description``,
            ``training_data``, ``training_command``, ``preprocessing`` (e.g.
            ``{"pixel_range": [0, 255], "image_size": 32}`` or ``{"sample_rate": 8000,
            "channels": "mono", "normalization": "peak 0.95"}``), ``probe_results``, ...
        task: optional task model; its ``task_config()`` and head variables are saved too.
        readme: model card text; None renders one with `keras_cpc.presets.card.model_card`.
        max_shard_size: backbone weights larger than this (GiB, as in Keras'
            ``save_weights``) are written as shards no larger than it, listed by
            ``model.weights.json``; None always writes one ``model.weights.h5``.
        card_sections: extra card sections for `model_card` (``objective``, ``usage``, ...).
        name: the preset name on the rendered card (its title and usage snippet); None: the
            folder name of ``path``. Ignored when ``readme`` is given.

    Example:
        >>> save_preset("presets/my_cpc", backbone, metadata={"description": "CPC on FSDD"})
    """
    return write_directory(
        path,
        lambda staging: _write_preset(
            staging,
            name or Path(path).name,
            backbone,
            metadata,
            task,
            readme,
            max_shard_size,
            card_sections,
        ),
        overwrite=overwrite,
    )


def _write_preset(staging, name, backbone, metadata, task, readme, max_shard_size, sections):
    (staging / CONFIG_FILE).write_text(json.dumps(serialize(backbone), indent=2))
    save_backbone_weights(backbone, staging, max_shard_size)
    if task is not None:
        (staging / TASK_CONFIG_FILE).write_text(json.dumps(task.task_config(), indent=2))
        save_variables_h5(staging / TASK_WEIGHTS_FILE, task.head_variables())
    info = {
        "description": "",
        "class_name": keras.saving.get_registered_name(type(backbone)),
        "task_class_name": (
            keras.saving.get_registered_name(type(task)) if task is not None else None
        ),
        "keras_cpc_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "dtype": backbone.dtype_policy.name,
        "parameter_count": int(backbone.count_params()),
        "input_spec": input_spec_of(backbone),
        "preprocessing": None,
        "training_data": None,
        "training_command": None,
        "probe_results": None,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    info.update(metadata or {})
    card = readme if readme is not None else model_card(name, info, sections=sections)
    (staging / README_FILE).write_text(card)
    info["files"] = {
        child.name: sha256_of(child) for child in sorted(staging.iterdir()) if child.is_file()
    }
    (staging / METADATA_FILE).write_text(json.dumps(info, indent=2))
