"""Loading a preset: the backbone, and the parts a task preset adds."""

import contextlib
from typing import NamedTuple

import keras

from keras_cpc.presets.integrity import read_metadata, verified_file
from keras_cpc.presets.layout import CONFIG_FILE, TASK_CONFIG_FILE, TASK_WEIGHTS_FILE, read_json
from keras_cpc.presets.resolve import resolve_preset
from keras_cpc.presets.serialization import deserialize, resolve_class
from keras_cpc.presets.weights import load_model_weights, verified_weights


def load_backbone(base_cls, preset, load_weights=True, **overrides):
    """Build the backbone of ``preset`` (name or directory); see `Backbone.from_preset`.

    Args:
        base_cls: the class asked for; the preset's class must be it or a subclass.
        preset: a preset name or directory.
        load_weights: load the saved weights (checked before anything is built); False
            builds fresh weights and opens no weights file.
        **overrides: backbone config entries to replace (e.g. ``dtype``).

    Example:
        >>> backbone = load_backbone(CPCBackbone, "cpc_gru_fsdd_8khz")
    """
    directory = resolve_preset(preset)
    metadata = read_metadata(directory)
    config = read_json(verified_file(directory, CONFIG_FILE, metadata))
    weights_path = None
    if load_weights:
        # Check the weights before building anything: a bad file fails fast.
        weights_path = verified_weights(directory, metadata)
    with global_dtype_policy(overrides.get("dtype")):
        backbone = deserialize(config, base_cls, f"{directory / CONFIG_FILE}", **overrides)
        if weights_path is not None:
            load_model_weights(backbone, weights_path)
    # How the preset's inputs were prepared (audio normalisation, image size), so that file
    # readers such as `keras-cpc extract` feed it as it was trained. Set untracked: plain data.
    object.__setattr__(backbone, "preset_preprocessing", dict(metadata.get("preprocessing") or {}))
    return backbone


@contextlib.contextmanager
def global_dtype_policy(dtype):
    """Build under the global Keras dtype policy ``dtype`` (None: leave it); restored after.

    Layers take the global policy when they are created, and a backbone's ``dtype`` reaches
    only the outer model, so ``from_preset(name, dtype="mixed_bfloat16")`` builds under this
    to compute in bfloat16 throughout (float32 weights, as saved). Also the body of
    `keras_cpc.training.dtype_policy_scope`.

    Example:
        >>> with global_dtype_policy("mixed_bfloat16"):
        ...     backbone = ResNetBackbone(18, 1.0, stem="cifar")  # doctest: +SKIP
    """
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class TaskParts(NamedTuple):
    """What a preset holds for a task, checked, before anything is built.

    ``task_class``, ``task_config`` and ``head_weights`` are None for a backbone-only preset;
    ``head_weights`` is also None when the head weights were not asked for.
    """

    directory: object
    metadata: dict
    task_class: object
    task_config: object
    head_weights: object


def load_task_parts(task_cls, preset, load_weights=True):
    """The task parts of a preset, every file read checked against its sha256.

    Args:
        task_cls: the task class asked for; a saved task must be it or a subclass.
        preset: a preset name or directory.
        load_weights: also check ``task.weights.h5`` and return its path as ``head_weights``
            (a bad head file fails before any model is built); False never opens it.

    Example:
        >>> parts = load_task_parts(ImageClassifier, "my_classifier")
        >>> parts.task_class, parts.task_config["config"]["num_classes"]
    """
    directory = resolve_preset(preset)
    metadata = read_metadata(directory)
    if not (directory / TASK_CONFIG_FILE).exists():
        return TaskParts(directory, metadata, None, None, None)
    task_config = read_json(verified_file(directory, TASK_CONFIG_FILE, metadata))
    task_class = resolve_class(task_config, task_cls, f"{directory / TASK_CONFIG_FILE}")
    head_weights = None
    if load_weights:
        head_weights = verified_file(directory, TASK_WEIGHTS_FILE, metadata)
    return TaskParts(directory, metadata, task_class, task_config, head_weights)
