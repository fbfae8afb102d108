"""Backbone weights (one file or Keras shards) and task-head variables, checked on load."""

import tempfile
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_cpc.presets.integrity import verified_file
from keras_cpc.presets.layout import NAME_PATTERN, SHARDED_WEIGHTS_FILE, WEIGHTS_FILE, read_json


def _h5_shapes(path):
    shapes = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                shapes.__setitem__(name, tuple(item.shape))
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return shapes


def shard_names(index_path):
    """File names of the weight shards listed by a Keras shard index (``*.weights.json``).

    Args:
        index_path: the shard index.

    Example:
        >>> shard_names(preset_dir / SHARDED_WEIGHTS_FILE)
        ['model_00000.weights.h5', 'model_00001.weights.h5']
    """
    index = read_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError(
            f"{index_path} must be a Keras shard index ({{'weight_map': {{variable path: "
            f"shard file or [shard files]}}}}); received {str(index)[:200]}."
        )
    # Keras writes one file name for a variable group held by one shard, a list otherwise.
    names = set()
    for files in weight_map.values():
        names.update([files] if isinstance(files, str) else files)
    names = sorted(names, key=str)
    for name in names:
        # Shards live beside the index: a path elsewhere would read outside the preset.
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(
                f"{index_path} must name shard files in its own directory; received {name!r}."
            )
    return names


def verified_weights(directory, metadata):
    """Path to hand to ``load_weights``, every file behind it checked against its sha256.

    That is ``model.weights.h5``, or the shard index ``model.weights.json`` once every shard it
    lists has been checked.

    Args:
        directory: the preset directory.
        metadata: the preset's metadata (from `read_metadata`).

    Example:
        >>> load_model_weights(backbone, verified_weights(directory, metadata))
    """
    directory = Path(directory)
    if not (directory / SHARDED_WEIGHTS_FILE).exists():
        return verified_file(directory, WEIGHTS_FILE, metadata)
    index_path = verified_file(directory, SHARDED_WEIGHTS_FILE, metadata)
    for name in shard_names(index_path):
        verified_file(directory, name, metadata)
    return index_path


def _weights_shapes(weights_path):
    """{dataset path: shape} of a ``.weights.h5`` file or of all shards of a shard index."""
    weights_path = Path(weights_path)
    if weights_path.suffix != ".json":
        return _h5_shapes(weights_path)
    shapes = {}
    for name in shard_names(weights_path):
        shapes.update(_h5_shapes(weights_path.parent / name))
    return shapes


def load_model_weights(model, weights_path):
    """``model.load_weights`` after checking the file's variables have the expected shapes.

    The expected layout comes from saving the freshly built model, so the check follows exactly
    Keras' own naming; errors list expected and received shapes.

    Args:
        model: the built model.
        weights_path: a ``.weights.h5`` file or a ``.weights.json`` shard index.

    Example:
        >>> load_model_weights(backbone, preset_dir / WEIGHTS_FILE)
    """
    with tempfile.TemporaryDirectory() as scratch:
        reference = Path(scratch) / "expected.weights.h5"
        model.save_weights(reference)
        expected = _h5_shapes(reference)
    try:
        received = _weights_shapes(weights_path)
    except OSError as error:
        raise ValueError(
            f"{weights_path} must be an HDF5 weights file (or a shard index of them); received "
            f"one that cannot be read ({error})."
        ) from None
    if expected != received:
        differences = [
            f"{key}: expected {expected.get(key, 'nothing')}, "
            f"received {received.get(key, 'nothing')}"
            for key in sorted(set(expected) | set(received))
            if expected.get(key) != received.get(key)
        ]
        shown = "; ".join(differences[:5])
        more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
        raise ValueError(
            f"Weights in {weights_path} do not fit the architecture of {model.name}: {shown}{more}."
        )
    model.load_weights(weights_path)


def save_backbone_weights(backbone, directory, max_shard_size):
    """Write ``model.weights.h5``, or shards listed by ``model.weights.json`` when larger than
    ``max_shard_size`` GiB (None: never shard)."""
    # From shapes and dtypes: copying every variable to NumPy just to size it costs a copy of
    # the model (and a NumPy 2 DeprecationWarning per variable on torch and TF tensors).
    size_gib = (
        sum(
            int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
            for v in backbone.weights
        )
        / 1024**3
    )
    if max_shard_size is not None and size_gib > max_shard_size:
        backbone.save_weights(Path(directory) / SHARDED_WEIGHTS_FILE, max_shard_size=max_shard_size)
    else:
        backbone.save_weights(Path(directory) / WEIGHTS_FILE)


def save_variables_h5(path, variables):
    """Write ``{key: variable}`` to an HDF5 file, one dataset per key.

    Args:
        path: the file to write.
        variables: ``{key: variable}`` (e.g. ``task.head_variables()``).

    Example:
        >>> save_variables_h5(staging / TASK_WEIGHTS_FILE, task.head_variables())
    """
    with h5py.File(path, "w") as handle:
        for key, variable in variables.items():
            handle.create_dataset(key, data=keras.ops.convert_to_numpy(variable))


def load_variables_h5(path, variables):
    """Assign datasets of ``path`` to ``{key: variable}``; shapes and keys must match.

    Args:
        path: a file written by `save_variables_h5`.
        variables: ``{key: variable}`` to assign.

    Example:
        >>> load_variables_h5(directory / TASK_WEIGHTS_FILE, task.head_variables())
    """
    received = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(
            lambda name, item: (
                received.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    expected = {key: tuple(v.shape) for key, v in variables.items()}
    got = {key: tuple(np.shape(v)) for key, v in received.items()}
    if expected != got:
        raise ValueError(
            f"Head weights in {path} do not fit the task: expected {expected}, received {got}."
        )
    for key, variable in variables.items():
        variable.assign(received[key])
