"""Preset directories: registry, name/path resolution, integrity checks, safe load, atomic save.

A preset is a directory::

    config.json        the serialised backbone (``keras.saving.serialize_keras_object``)
    model.weights.h5   backbone weights (Keras ``save_weights`` format), or, when they are larger
                       than ``max_shard_size``, model.weights.json (Keras' shard index, the
                       name keras-hub uses) plus model_00000.weights.h5, model_00001...
    metadata.json      versions, parameter count, input spec, sha256 of every other file, ...
    README.md          model card
    task.json          (task presets only) classifier config without the backbone
    task.weights.h5    (task presets only) head weights, keyed by variable path

Preset names resolve to directories under the shipped ``presets/`` folder (inside the installed
package as ``keras_cpc/_presets``, or the top-level ``presets/`` of a source checkout) and under
the folders listed in ``KERAS_CPC_PRESETS_PATH`` (``os.pathsep``-separated). Everything else is
a local directory path. Nothing is ever downloaded.
"""

import contextlib
import datetime
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
TASK_CONFIG_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PRESETS_PATH_ENV = "KERAS_CPC_PRESETS_PATH"

# Modules holding the registries of shipped presets (name -> {"metadata", "class_name"}).
_REGISTRY_MODULES = (
    "keras_cpc.models.resnet.resnet_presets",
    "keras_cpc.models.cpc.cpc_presets",
)
# A preset *name* is one path component made of these characters (never "." or "..").
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# Modules a nested config object may come from (safe deserialisation).
_ALLOWED_MODULE_PREFIXES = ("keras", "keras_cpc")


# Backbone weights larger than this many GiB (Keras' unit for ``max_shard_size``) are split into
# shards: 0.025 GiB (26.8 MB) keeps every file of a preset committable to a git repository.
DEFAULT_MAX_SHARD_SIZE = 0.025


class PresetExistsError(FileExistsError, ValueError):
    """``save_to_preset`` into an existing directory without ``overwrite=True``."""


# --------------------------------------------------------------------------------------------
# Registry and listing
# --------------------------------------------------------------------------------------------


def shipped_presets_dirs():
    """Folders searched for preset names, in order of precedence."""
    dirs = []
    for entry in os.environ.get(PRESETS_PATH_ENV, "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry).expanduser())
    package_dir = Path(__file__).resolve().parent
    installed = package_dir / "_presets"  # wheel install (see setup.py)
    checkout = package_dir.parent / "presets"  # source / editable checkout
    for candidate in (installed, checkout):
        if candidate.is_dir():
            dirs.append(candidate)
    return dirs


def registered_presets():
    """The presets declared in the ``*_presets.py`` registries: name -> entry."""
    presets = {}
    for module_name in _REGISTRY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, entry in getattr(module, "backbone_presets", {}).items():
            presets[name] = entry
    return presets


def _discovered_presets():
    """Preset directories found in the search folders: name -> directory (first one wins)."""
    found = {}
    for root in shipped_presets_dirs():
        for child in sorted(root.iterdir()):
            if child.name not in found and (child / CONFIG_FILE).is_file():
                found[child.name] = child
    return found


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} must contain valid JSON; received a file that fails to parse ({error})."
        ) from None


def list_presets(backbone_cls=None):
    """Available presets with their descriptions: ``{name: info}``.

    ``info`` holds ``description``, ``params``, ``class_name`` (registered class of the
    backbone), ``path`` (documentation slug, when registered) and ``directory`` (where the
    files are; None for a registered preset whose files are not shipped in this install).

    Args:
        backbone_cls: only list presets whose backbone is this class or a subclass of it.

    Example:
        >>> import keras_cpc
        >>> for name, info in keras_cpc.list_presets().items():
        ...     print(name, info["description"])
    """
    discovered = _discovered_presets()
    listing = {}
    for name, entry in registered_presets().items():
        metadata = dict(entry.get("metadata", {}))
        listing[name] = {
            "description": metadata.get("description", ""),
            "params": metadata.get("params"),
            "path": metadata.get("path"),
            "class_name": entry.get("class_name"),
            "directory": str(discovered[name]) if name in discovered else None,
        }
    for name, directory in discovered.items():
        if name in listing:
            continue
        info = {"description": "", "params": None, "path": None, "class_name": None}
        with contextlib.suppress(OSError, ValueError):
            metadata = _read_json(directory / METADATA_FILE)
            info["description"] = metadata.get("description", "")
            info["params"] = metadata.get("parameter_count")
        with contextlib.suppress(OSError, ValueError):
            info["class_name"] = _read_json(directory / CONFIG_FILE).get("registered_name")
        info["directory"] = str(directory)
        listing[name] = info
    if backbone_cls is not None:
        listing = {
            name: info
            for name, info in listing.items()
            if _class_matches(info.get("class_name"), backbone_cls)
        }
    return dict(sorted(listing.items()))


def _class_matches(registered_name, base_cls):
    from keras_cpc.models.backbone import Backbone

    if base_cls is Backbone or base_cls is None:
        return True
    if registered_name is None:
        return False
    if registered_name == keras.saving.get_registered_name(base_cls):
        return True
    found = keras.saving.get_registered_object(registered_name)
    return isinstance(found, type) and issubclass(found, base_cls)


# --------------------------------------------------------------------------------------------
# Resolution of names and paths
# --------------------------------------------------------------------------------------------


def resolve_preset(name_or_path):
    """Return the directory of a preset given by shipped name or by local path.

    A ``str`` without a path separator is a preset name; a ``os.PathLike`` or a ``str`` with a
    separator is a local directory. Names never leave the presets folders: ``..`` components
    and symlinks pointing outside are refused.
    """
    if isinstance(name_or_path, os.PathLike):
        return _check_preset_dir(Path(name_or_path))
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ValueError(
            "A preset must be a preset name (str) or a directory path; "
            f"received {name_or_path!r} of type {type(name_or_path).__name__}."
        )
    parts = re.split(r"[\\/]", name_or_path)
    is_name = len(parts) == 1 and not name_or_path.startswith("~")
    if ".." in parts:
        # Allowed only as an explicit path to an existing preset directory; as a name it
        # would escape the presets folder.
        candidate = Path(name_or_path).expanduser()
        if len(parts) > 1 and (candidate / CONFIG_FILE).is_file():
            return candidate
        raise ValueError(
            f"Preset names are single path components inside the presets folders "
            f"({_roots_text()}); received {name_or_path!r}, whose '..' escapes them. "
            f"Pass one of {_available_text()} or the path of a directory holding "
            f"{CONFIG_FILE}."
        )
    if not is_name:
        return _check_preset_dir(Path(name_or_path).expanduser())
    if not _NAME_PATTERN.match(name_or_path):
        raise ValueError(
            f"A preset name consists of letters, digits, '_', '-' and '.'; received "
            f"{name_or_path!r}. Available presets: {_available_text()}."
        )
    for root in shipped_presets_dirs():
        candidate = root / name_or_path
        if candidate.exists():
            _check_inside(candidate, root, name_or_path)
            return _check_preset_dir(candidate)
    registered = registered_presets()
    if name_or_path in registered:
        raise FileNotFoundError(
            f"Preset {name_or_path!r} is registered, but its directory was not found in "
            f"{_roots_text()}; expected {name_or_path}/{CONFIG_FILE} in one of them."
        )
    raise ValueError(
        f"Unknown preset {name_or_path!r}. Expected one of: {_available_text()}, or the path "
        f"of a preset directory (a path with a '/' or a pathlib.Path)."
    )


def _check_inside(candidate, root, name):
    resolved_root = root.resolve()
    resolved = candidate.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise ValueError(
            f"Preset {name!r} must resolve inside its presets folder {resolved_root}; "
            f"received a link to {resolved}."
        )


def _check_preset_dir(directory):
    if not directory.exists():
        raise FileNotFoundError(
            f"Expected a preset directory at {directory}; received a path that does not exist."
        )
    if not directory.is_dir():
        raise ValueError(
            f"Expected a preset directory at {directory}; received a path that is a file."
        )
    return directory


def _roots_text():
    roots = shipped_presets_dirs()
    return ", ".join(str(r) for r in roots) if roots else "no presets folder found"


def _available_text():
    names = list(list_presets())
    return ", ".join(repr(n) for n in names) if names else "(no presets available)"


# --------------------------------------------------------------------------------------------
# Integrity
# --------------------------------------------------------------------------------------------


def sha256_of(path, chunk_size=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metadata(directory):
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {METADATA_FILE} (with the sha256 of every file) in preset {directory}; "
            "received a directory without it."
        )
    metadata = _read_json(path)
    if not isinstance(metadata.get("files"), dict):
        raise ValueError(
            f"{path} must map file names to sha256 digests under 'files'; received keys "
            f"{sorted(metadata)}."
        )
    return metadata


def verified_file(directory, filename, metadata):
    """Path of ``filename`` in the preset after checking it exists and matches its sha256."""
    path = Path(directory) / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {filename} in preset {directory}; received a directory without it "
            f"(contents: {sorted(p.name for p in Path(directory).iterdir())})."
        )
    expected = metadata["files"].get(filename)
    if expected is None:
        raise ValueError(
            f"{METADATA_FILE} of preset {directory} must list the sha256 of {filename}; "
            f"received entries only for {sorted(metadata['files'])}."
        )
    received = sha256_of(path)
    if received != expected:
        raise ValueError(
            f"{filename} in preset {directory} is truncated or altered: expected sha256 "
            f"{expected} (from {METADATA_FILE}), received {received} "
            f"({path.stat().st_size} bytes)."
        )
    return path


# --------------------------------------------------------------------------------------------
# Safe deserialisation
# --------------------------------------------------------------------------------------------


def _check_nested_objects(node, where):
    """Refuse nested serialised objects from modules outside keras / keras_cpc."""
    if isinstance(node, dict):
        module = node.get("module")
        if "class_name" in node and module is not None:
            if not any(
                module == prefix or module.startswith(prefix + ".")
                for prefix in _ALLOWED_MODULE_PREFIXES
            ):
                raise ValueError(
                    f"{where} may only reference keras / keras_cpc objects; received "
                    f"class {node.get('class_name')!r} from module {module!r}."
                )
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            if not registered.startswith("keras_cpc>"):
                raise ValueError(
                    f"{where} may only reference registered keras_cpc classes; received "
                    f"registered name {registered!r}."
                )
        for value in node.values():
            _check_nested_objects(value, where)
    elif isinstance(node, list):
        for value in node:
            _check_nested_objects(value, where)


def resolve_class(config, base_cls, where):
    """The registered keras_cpc class named by a serialised config, checked against base_cls."""
    if not isinstance(config, dict) or "config" not in config:
        raise ValueError(
            f"{where} must be a serialised Keras object (keys 'class_name', 'config', "
            f"'registered_name'); received {type(config).__name__} "
            f"with keys {sorted(config) if isinstance(config, dict) else None}."
        )
    registered = config.get("registered_name") or config.get("class_name")
    if not isinstance(registered, str) or not registered.startswith("keras_cpc>"):
        raise ValueError(
            f"{where} must name a registered keras_cpc class ('keras_cpc>ClassName'); "
            f"received {registered!r} from module {config.get('module')!r}. Only keras_cpc "
            "classes are deserialised from presets."
        )
    # Importing keras_cpc.models registers every keras_cpc class.
    importlib.import_module("keras_cpc.models")
    cls = keras.saving.get_registered_object(registered)
    if not isinstance(cls, type):
        raise ValueError(
            f"{where} names {registered!r}, which is not a registered keras_cpc class in "
            f"this version of keras_cpc ({_keras_cpc_version()})."
        )
    if not issubclass(cls, base_cls):
        raise ValueError(
            f"{where} names {registered!r}; expected a subclass of {base_cls.__name__}, "
            f"received {cls.__name__}."
        )
    _check_nested_objects(config["config"], where)
    return cls


def deserialize(config, base_cls, where, **overrides):
    cls = resolve_class(config, base_cls, where)
    config = dict(config)
    config["config"] = {**config["config"], **overrides}
    # safe_mode refuses lambdas; the checks above refuse foreign classes.
    obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not isinstance(obj, cls):
        raise ValueError(f"{where} deserialised to {type(obj).__name__}; expected {cls.__name__}.")
    return obj


def _strip_build_configs(node):
    if isinstance(node, dict):
        return {
            k: _strip_build_configs(v)
            for k, v in node.items()
            if k not in ("build_config", "compile_config")
        }
    if isinstance(node, list):
        return [_strip_build_configs(v) for v in node]
    return node


def serialize(obj):
    return _strip_build_configs(keras.saving.serialize_keras_object(obj))


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------


def _h5_shapes(path):
    import h5py

    shapes = {}
    with h5py.File(path, "r") as handle:

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                shapes[name] = tuple(item.shape)

        handle.visititems(visit)
    return shapes


def shard_names(index_path):
    """File names of the weight shards listed by a Keras shard index (``*.weights.json``)."""
    index = _read_json(index_path)
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
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise ValueError(
                f"{index_path} must name shard files in its own directory; received {name!r}."
            )
    return names


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

    ``weights_path`` is a ``.weights.h5`` file or a ``.weights.json`` shard index. The
    expected layout comes from saving the freshly built model, so the check follows exactly
    Keras' own naming; errors list expected and received shapes.
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
        differences = []
        for key in sorted(set(expected) | set(received)):
            if expected.get(key) != received.get(key):
                differences.append(
                    f"{key}: expected {expected.get(key, 'nothing')}, "
                    f"received {received.get(key, 'nothing')}"
                )
        shown = "; ".join(differences[:5])
        more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
        raise ValueError(
            f"Weights in {weights_path} do not fit the architecture of {model.name}: {shown}{more}."
        )
    model.load_weights(weights_path)


def save_variables_h5(path, variables):
    """Write ``{key: variable}`` to an HDF5 file, one dataset per key."""
    import h5py

    with h5py.File(path, "w") as handle:
        for key, variable in variables.items():
            handle.create_dataset(key, data=keras.ops.convert_to_numpy(variable))


def load_variables_h5(path, variables):
    """Assign datasets of ``path`` to ``{key: variable}``; shapes and keys must match."""
    import h5py

    with h5py.File(path, "r") as handle:
        received = {}
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


# --------------------------------------------------------------------------------------------
# Atomic save
# --------------------------------------------------------------------------------------------


def _keras_cpc_version():
    import keras_cpc

    return keras_cpc.__version__


def input_spec_of(backbone):
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


def _model_card(name, metadata):
    lines = [f"# {name}", ""]
    if metadata.get("description"):
        lines += [metadata["description"], ""]
    lines += [
        f"- Backbone: `{metadata['class_name']}` ({metadata['parameter_count']:,} parameters)",
        f"- Input: `{json.dumps(metadata.get('input_spec', {}))}`",
        f"- Saved with keras_cpc {metadata['keras_cpc_version']}, Keras "
        f"{metadata['keras_version']} ({metadata['backend']} backend)",
        f"- Training data: {metadata.get('training_data') or 'not recorded'}",
        f"- Training command: `{metadata.get('training_command') or 'not recorded'}`",
    ]
    if metadata.get("probe_results"):
        lines += ["", "## Measured probe results", "", "```"]
        lines += [json.dumps(metadata["probe_results"], indent=2), "```"]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import keras_cpc",
        f'backbone = keras_cpc.models.Backbone.from_preset("{name}")',
        "features = backbone.predict(inputs)",
        "```",
        "",
    ]
    return "\n".join(lines)


def save_preset(
    path,
    backbone,
    overwrite=False,
    metadata=None,
    task=None,
    readme=None,
    max_shard_size=DEFAULT_MAX_SHARD_SIZE,
):
    """Write a preset directory atomically (see module docstring for the layout).

    Files go to a temporary sibling directory that replaces ``path`` only once complete, so
    an interrupted save leaves any previous preset at ``path`` untouched.

    Args:
        path: target directory.
        backbone: the `Backbone` to save.
        overwrite: replace an existing directory at ``path``; otherwise refuse.
        metadata: extra metadata (``description``, ``training_data``, ``training_command``,
            ``probe_results``, ...) merged into ``metadata.json``.
        task: optional task model; its ``task_config()`` and head variables are saved too.
        readme: model card text; generated from the metadata when None.
        max_shard_size: backbone weights larger than this (GiB, as in Keras'
            ``save_weights``) are written as shards no larger than it, listed by
            ``model.weights.json``; None always writes one ``model.weights.h5``.
    """
    path = Path(path).expanduser()
    if path.exists() and not overwrite:
        raise PresetExistsError(
            f"Expected a new preset directory, received existing path {path}; pass "
            "overwrite=True to replace it."
        )
    if path.exists() and not path.is_dir():
        raise ValueError(f"Expected a directory path for the preset, received a file: {path}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=path.parent))
    try:
        (staging / CONFIG_FILE).write_text(json.dumps(serialize(backbone), indent=2))
        _save_backbone_weights(backbone, staging, max_shard_size)
        if task is not None:
            (staging / TASK_CONFIG_FILE).write_text(json.dumps(task.task_config(), indent=2))
            save_variables_h5(staging / TASK_WEIGHTS_FILE, task.head_variables())
        info = {
            "description": "",
            "class_name": keras.saving.get_registered_name(type(backbone)),
            "task_class_name": (
                keras.saving.get_registered_name(type(task)) if task is not None else None
            ),
            "keras_cpc_version": _keras_cpc_version(),
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "parameter_count": int(backbone.count_params()),
            "input_spec": input_spec_of(backbone),
            "training_data": None,
            "training_command": None,
            "probe_results": None,
            "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        info.update(metadata or {})
        card = readme if readme is not None else _model_card(path.name, info)
        (staging / README_FILE).write_text(card)
        info["files"] = {
            child.name: sha256_of(child) for child in sorted(staging.iterdir()) if child.is_file()
        }
        (staging / METADATA_FILE).write_text(json.dumps(info, indent=2))
        _replace_directory(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return path


def _save_backbone_weights(backbone, directory, max_shard_size):
    size_gib = sum(keras.ops.convert_to_numpy(v).nbytes for v in backbone.weights) / 1024**3
    if max_shard_size is not None and size_gib > max_shard_size:
        backbone.save_weights(directory / SHARDED_WEIGHTS_FILE, max_shard_size=max_shard_size)
    else:
        backbone.save_weights(directory / WEIGHTS_FILE)


def verified_weights(directory, metadata):
    """Path to hand to ``load_weights``: ``model.weights.h5``, or the shard index after every
    shard it lists has been checked against its sha256."""
    directory = Path(directory)
    if not (directory / SHARDED_WEIGHTS_FILE).exists():
        return verified_file(directory, WEIGHTS_FILE, metadata)
    index_path = verified_file(directory, SHARDED_WEIGHTS_FILE, metadata)
    for name in shard_names(index_path):
        verified_file(directory, name, metadata)
    return index_path


def _replace_directory(staging, path):
    if not path.exists():
        os.replace(staging, path)
        return
    # Move the old preset aside first: a directory cannot be renamed over a non-empty one.
    retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
    os.rmdir(retired)
    os.replace(path, retired)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(retired, path)
        raise
    shutil.rmtree(retired, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_backbone(base_cls, preset, load_weights=True, **overrides):
    """Build the backbone of ``preset`` (name or directory); see `Backbone.from_preset`."""
    directory = resolve_preset(preset)
    metadata = read_metadata(directory)
    config = _read_json(verified_file(directory, CONFIG_FILE, metadata))
    weights_path = None
    if load_weights:
        # Check the weights before building anything: a bad file fails fast.
        weights_path = verified_weights(directory, metadata)
    backbone = deserialize(config, base_cls, f"{directory / CONFIG_FILE}", **overrides)
    if weights_path is not None:
        load_model_weights(backbone, weights_path)
    return backbone


def load_task_parts(task_cls, preset, load_weights=True):
    """(directory, metadata, task config or None) for a task preset; verifies task.json."""
    directory = resolve_preset(preset)
    metadata = read_metadata(directory)
    task_config = None
    if (directory / TASK_CONFIG_FILE).exists():
        task_config = _read_json(verified_file(directory, TASK_CONFIG_FILE, metadata))
        resolve_class(task_config, task_cls, f"{directory / TASK_CONFIG_FILE}")
    return directory, metadata, task_config
