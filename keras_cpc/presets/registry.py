"""The preset registry, filled from below, and the listing of available presets.

Each model family declares its shipped presets in a ``*_presets.py`` module that calls
`register_presets` when imported (as keras-hub does), so this package never imports the model
families: the arrow runs from models to presets only. Preset directories are found under the
folders listed in ``KERAS_CPC_PRESETS_PATH`` (``os.pathsep``-separated), then under the shipped
``presets/`` folder (inside the installed package as ``keras_cpc/_presets``, or the top-level
``presets/`` of a source checkout).

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


def registered_presets():
    """The presets declared through `register_presets`: ``{name: entry}`` (a copy).

    Example:
        >>> sorted(registered_presets())
    """
    return {name: dict(entry) for name, entry in _REGISTRY.items()}


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
