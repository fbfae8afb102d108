"""Turning a preset name or path into a preset directory, without leaving the presets folders.

Preset names resolve to directories in the search folders of `shipped_presets_dirs`, then to
registered remote presets (downloaded and converted once into the cache by
`keras_cpc.presets.remote`); everything else is a local directory path.
"""

import os
import re
from pathlib import Path

from keras_cpc.presets.layout import CONFIG_FILE, NAME_PATTERN
from keras_cpc.presets.registry import list_presets, registered_presets, shipped_presets_dirs
from keras_cpc.presets.remote import remote_spec, resolve_remote


def resolve_preset(name_or_path):
    """Return the directory of a preset given by shipped name or by local path.

    A ``str`` without a path separator is a preset name; a ``os.PathLike`` or a ``str`` with a
    separator is a local directory. Names never leave the presets folders: ``..`` components
    and symlinks pointing outside are refused. A remote preset name (official weights) is
    downloaded and converted on first use, then served from the cache.

    Args:
        name_or_path: a preset name (``"cpc_gru_fsdd_8khz"``) or a directory path.

    Example:
        >>> directory = resolve_preset("cpc_gru_fsdd_8khz")
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
    if not NAME_PATTERN.match(name_or_path):
        raise ValueError(
            f"A preset name consists of letters, digits, '_', '-' and '.'; received "
            f"{name_or_path!r}. Available presets: {_available_text()}."
        )
    for root in shipped_presets_dirs():
        candidate = root / name_or_path
        if candidate.exists():
            _check_inside(candidate, root, name_or_path)
            return _check_preset_dir(candidate)
    if remote_spec(name_or_path) is not None:
        return resolve_remote(name_or_path)
    if name_or_path in registered_presets():
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
