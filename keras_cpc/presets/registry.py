"""The preset registry, filled from below, and the listing of available presets.

Each model family declares its shipped presets in a ``*_presets.py`` module that calls
`register_presets` when imported (as keras-hub does), so this package never imports the model
families: the arrow runs from models to presets only. Preset directories are found under the
folders listed in ``KERAS_CPC_PRESETS_PATH`` (``os.pathsep``-separated), then under the shipped
``presets/`` folder (inside the installed package as ``keras_cpc/_presets``, or the top-level
``presets/`` of a source checkout).

A registered entry whose metadata holds a ``remote`` block is a remote preset: official weights
fetched, converted and cached on first use under ``$KERAS_HOME/keras_cpc/remote/<name>/`` (see
`keras_cpc.presets.remote`); listing one only looks at that folder.

Nothing here imports keras at module level: registering and listing presets is plain JSON and
dicts, so ``keras-cpc presets`` answers without loading a backend.
"""

import contextlib
import os
from pathlib import Path

from keras_cpc.presets.layout import CONFIG_FILE, METADATA_FILE, PRESETS_PATH_ENV, read_json

# name -> {"metadata": {...}, "class_name": "keras_cpc>ClassName"}; filled by register_presets.
_REGISTRY = {}


def register_presets(presets, class_name):
    """Declare a model family's shipped presets; called by its ``*_presets.py`` at import.

    Args:
        presets: ``{name: {"metadata": {"description", "params", "path"}}}``.
        class_name: the registered Keras name of the backbone class the presets hold, e.g.
            ``"keras_cpc>ResNetBackbone"``.

    Example:
        >>> register_presets(backbone_presets, "keras_cpc>ResNetBackbone")
    """
    if not isinstance(class_name, str) or ">" not in class_name:
        raise ValueError(
            "`class_name` must be a registered Keras name such as 'keras_cpc>ResNetBackbone'; "
            f"received {class_name!r}."
        )
    if not isinstance(presets, dict):
        raise ValueError(
            f"`presets` must be a dict of name -> entry; received {type(presets).__name__}."
        )
    for name, entry in presets.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("metadata", {}), dict):
            raise ValueError(
                f"Preset {name!r} must be registered as {{'metadata': {{...}}}}; received "
                f"{entry!r}."
            )
        if "remote" in entry.get("metadata", {}):
            check_remote_spec(name, entry["metadata"]["remote"])
        declared = entry.get("class_name", class_name)
        if declared != class_name:
            raise ValueError(
                f"Preset {name!r} is registered for {class_name!r}; received an entry that "
                f"names {declared!r}."
            )
        registered = {"metadata": dict(entry.get("metadata", {})), "class_name": class_name}
        previous = _REGISTRY.get(name)
        # The same entry twice is a module reload; a different one would shadow a preset.
        if previous is not None and previous != registered:
            raise ValueError(
                f"Preset name {name!r} is already registered for {previous['class_name']!r}; "
                f"received a second, different registration for {class_name!r}."
            )
        _REGISTRY[name] = registered


def check_remote_spec(name, spec):
    """Raise a ValueError naming what is wrong with the ``remote`` block of preset ``name``.

    Args:
        name: the preset name (for the message).
        spec: the block: ``base_url``, ``files`` (each a dict with ``path`` and optionally
            ``size``, ``sha256``, ``sha256_prefix``), ``source``, ``converter``
            (``"module:function"``), optionally ``converter_options``, ``licence``,
            ``published``.

    Example:
        >>> check_remote_spec("my_remote", spec)
    """
    problems = []
    if not isinstance(spec, dict):
        problems.append(f"a dict (received {type(spec).__name__})")
        spec = {}
    for key in ("base_url", "source", "converter"):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            problems.append(f"a non-empty string '{key}'")
    if ":" not in str(spec.get("converter", ":")):
        problems.append("'converter' as 'package.module:function'")
    files = spec.get("files")
    if not isinstance(files, list) or not files:
        problems.append("a non-empty list 'files'")
        files = []
    # Paths are joined to the cache folder: none may leave it.
    items = [*files, {"path": spec.get("source")}]
    for item in items:
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or ".." in path.split("/") or path.startswith("/"):
            problems.append(f"relative file paths without '..' (received {item!r})")
    if problems:
        raise ValueError(
            f"The 'remote' block of preset {name!r} must have {'; '.join(problems)}; received "
            f"{spec!r}."
        )


def registered_presets():
    """The presets declared through `register_presets`: ``{name: entry}`` (a copy).

    Example:
        >>> sorted(registered_presets())
    """
    return {name: dict(entry) for name, entry in _REGISTRY.items()}


def keras_home():
    """Keras' own data folder: ``$KERAS_HOME``, else ``~/.keras`` (as ``keras.utils.get_file``).

    Example:
        >>> keras_home() / "keras_cpc" / "remote"
    """
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras")).expanduser()


def remote_cache_dir(name):
    """Where the remote preset ``name`` is cached: downloads, records and the converted preset.

    Args:
        name: a registered remote preset name.

    Example:
        >>> remote_cache_dir("cpc_audio_librilight_60k") / "preset"
    """
    return keras_home() / "keras_cpc" / "remote" / name


def remote_preset_dir(name):
    """The converted preset of the remote preset ``name`` (it may not exist yet).

    Example:
        >>> (remote_preset_dir("cpc_audio_librilight_60k") / CONFIG_FILE).is_file()
    """
    return remote_cache_dir(name) / "preset"


def shipped_presets_dirs():
    """Folders searched for preset names, in order of precedence.

    Example:
        >>> [str(folder) for folder in shipped_presets_dirs()]
    """
    dirs = []
    for entry in os.environ.get(PRESETS_PATH_ENV, "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry).expanduser())
    package_dir = Path(__file__).resolve().parent.parent
    installed = package_dir / "_presets"  # wheel install (see setup.py)
    checkout = package_dir.parent / "presets"  # source / editable checkout
    for candidate in (installed, checkout):
        if candidate.is_dir():
            dirs.append(candidate)
    return dirs


def discovered_presets():
    """Preset directories found in the search folders: name -> directory (first one wins)."""
    found = {}
    for root in shipped_presets_dirs():
        for child in sorted(root.iterdir()):
            if child.name not in found and (child / CONFIG_FILE).is_file():
                found[child.name] = child
    return found


def list_presets(backbone_cls=None):
    """Available presets with their descriptions: ``{name: info}``.

    ``info`` holds ``description``, ``params``, ``class_name`` (registered class of the
    backbone), ``path`` (documentation slug, when registered) and ``directory`` (where the
    files are; None for a registered preset whose files are not shipped in this install).
    A remote preset (official weights converted on first use) also has ``remote``: True and
    ``cached``: whether its converted copy is already in the cache (then ``directory`` is it).

    Args:
        backbone_cls: only list presets whose backbone is this class or a subclass of it;
            None lists every preset.

    Example:
        >>> import keras_cpc
        >>> for name, info in keras_cpc.list_presets().items():
        ...     print(name, info["description"])
    """
    discovered = discovered_presets()
    listing = {}
    for name, entry in _REGISTRY.items():
        metadata = entry["metadata"]
        listing[name] = {
            "description": metadata.get("description", ""),
            "params": metadata.get("params"),
            "path": metadata.get("path"),
            "class_name": entry["class_name"],
            "directory": str(discovered[name]) if name in discovered else None,
        }
        if metadata.get("remote") and name not in discovered:
            cached = remote_preset_dir(name)
            listing[name]["remote"] = True
            listing[name]["cached"] = (cached / CONFIG_FILE).is_file()
            listing[name]["directory"] = str(cached) if listing[name]["cached"] else None
    for name, directory in discovered.items():
        if name in listing:
            continue
        info = {"description": "", "params": None, "path": None, "class_name": None}
        with contextlib.suppress(OSError, ValueError):
            metadata = read_json(directory / METADATA_FILE)
            info["description"] = metadata.get("description", "")
            info["params"] = metadata.get("parameter_count")
        with contextlib.suppress(OSError, ValueError):
            info["class_name"] = read_json(directory / CONFIG_FILE).get("registered_name")
        info["directory"] = str(directory)
        listing[name] = info
    if backbone_cls is not None:
        listing = {
            name: info
            for name, info in listing.items()
            if class_matches(info.get("class_name"), backbone_cls)
        }
    return dict(sorted(listing.items()))


def class_matches(registered_name, base_cls):
    """Whether the class registered as ``registered_name`` is ``base_cls`` or a subclass.

    Looks the name up in Keras' registered-object table, which holds every class the model
    families define once they are imported (``import keras_cpc`` imports them all).

    Args:
        registered_name: a registered Keras name (``"keras_cpc>CPCBackbone"``) or None.
        base_cls: the class asked for; None matches everything.

    Example:
        >>> class_matches("keras_cpc>CPCBackbone", CPCBackbone)
        True
    """
    if base_cls is None:
        return True
    if registered_name is None:
        return False
    # Imported here, not at the top: listing presets (the `keras-cpc presets` command) must not
    # load a backend, and a caller with a Keras class in hand has imported keras already.
    import keras

    if registered_name == keras.saving.get_registered_name(base_cls):
        return True
    found = keras.saving.get_registered_object(registered_name)
    return isinstance(found, type) and issubclass(found, base_cls)
