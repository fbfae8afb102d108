"""Replacing a directory so that its path always holds a complete version, old or new.

A save writes into a staging sibling ``.<name>.saving-<pid>-<random>`` and then moves it into
place. Where the OS can swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``, glibc
2.28+, on file systems that support it) the old and new directories trade places in one step,
so a reader always finds a complete preset. Elsewhere the old directory is first renamed to
``.<name>.old-<pid>-<random>`` (a brief moment with nothing at the path); a save killed in that
moment is repaired by the next save, which moves the old directory back before cleaning up.
"""

import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from keras_cpc.presets.integrity import read_metadata, sha256_of
from keras_cpc.presets.layout import PresetExistsError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values that mean "no atomic exchange here" (old kernel, libc or file system).
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def _load_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    path_arg = (ctypes.c_int, ctypes.c_char_p)
    function.argtypes = [*path_arg, *path_arg, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _load_renameat2()


def write_directory(path, write, overwrite=False):
    """Create or replace the directory ``path`` so that it is never seen half written.

    Repairs what killed saves left beside ``path`` (`recover_and_clean`), lets ``write`` fill a
    new staging sibling, gives it the permissions of a plain ``mkdir``, and moves it into place
    with `replace_directory`. The staging folder is removed whatever happens.

    Args:
        path: the destination directory.
        write: ``write(staging)`` writes the complete contents into the ``Path`` it receives.
        overwrite: replace an existing directory; otherwise raise `PresetExistsError`.

    Example:
        >>> write_directory(preset_dir, lambda staging: (staging / "a.txt").write_text("a"))
    """
    path = Path(path).expanduser()
    if os.path.lexists(path) and not path.is_dir():
        raise ValueError(f"Expected a directory path for the preset, received a file: {path}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_and_clean(path)
    if path.exists() and not overwrite:
        raise PresetExistsError(
            f"Expected a new preset directory, received existing path {path}; pass "
            "overwrite=True to replace it."
        )
    staging = staging_dir(path)
    try:
        write(staging)
        os.chmod(staging, normal_mode())
        replace_directory(staging, path)
    finally:
        # After a swap the staging path holds the replaced directory; after a failure, a
        # partial one. Either way it goes.
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return path


def exchange_paths(first, second):
    """Swap two existing paths in one atomic step; False where the OS cannot.

    Args:
        first: an existing path.
        second: another existing path on the same file system.

    Example:
        >>> swapped = exchange_paths(staging, preset_dir)  # staging now holds the old preset
    """
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, f"renameat2(RENAME_EXCHANGE) failed: {os.strerror(code)}", str(first))


def replace_directory(staging, path):
    """Move the complete directory ``staging`` to ``path``, replacing what is there.

    Afterwards ``staging`` no longer exists or holds the replaced directory (the caller
    removes it).

    Args:
        staging: the complete new directory, a sibling of ``path``.
        path: the destination.

    Example:
        >>> replace_directory(staging, preset_dir)
    """
    staging, path = Path(staging), Path(path)
    if not os.path.lexists(path):
        os.replace(staging, path)
        return
    if exchange_paths(staging, path):
        return
    # No atomic exchange: a directory cannot be renamed over a non-empty one, so the old
    # preset steps aside first. `recover_and_clean` repairs a save killed between the renames.
    retired = Path(_sibling_dir(path, "old"))
    os.rmdir(retired)
    os.replace(path, retired)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(retired, path)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def staging_dir(path):
    """A new empty staging sibling of ``path``, named after this process (see module doc).

    Args:
        path: the directory a save will replace.

    Example:
        >>> staging = staging_dir(preset_dir)
    """
    return Path(_sibling_dir(Path(path), "saving"))


def _sibling_dir(path, kind):
    return tempfile.mkdtemp(prefix=f".{path.name}.{kind}-{os.getpid()}-", dir=path.parent)


def recover_and_clean(path):
    """Undo what killed saves left beside ``path``: restore a retired preset when nothing is at
    ``path``, then remove staging and retired siblings of processes that no longer run.

    Siblings of running processes (a concurrent save) are left alone. Without a way to probe
    processes (outside POSIX) only siblings of saves that predate process ids in the name are
    removed.

    Args:
        path: the preset directory a save is about to write.

    Example:
        >>> recover_and_clean(preset_dir)
    """
    path = Path(path)
    if not path.parent.is_dir():
        return
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(saving|old)-(?:(\d+)-)?[a-z0-9_]+$")
    stale = {"saving": [], "old": []}
    for sibling in path.parent.iterdir():
        match = pattern.match(sibling.name)
        if match and sibling.is_dir() and not sibling.is_symlink():
            pid = int(match.group(2)) if match.group(2) else None
            if pid is None or not _process_alive(pid):
                stale[match.group(1)].append(sibling)
    if not os.path.lexists(path):
        complete = [d for d in stale["old"] if _is_complete(d)]
        if complete:
            newest = max(complete, key=lambda d: d.stat().st_mtime)
            os.replace(newest, path)
            stale["old"].remove(newest)
    for sibling in stale["saving"] + stale["old"]:
        shutil.rmtree(sibling, ignore_errors=True)


def _process_alive(pid):
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill would terminate the process on Windows: never probe there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _is_complete(directory):
    """Whether ``directory`` holds a preset whose every listed file matches its sha256."""
    try:
        metadata = read_metadata(directory)
        return all(
            (directory / name).is_file() and sha256_of(directory / name) == digest
            for name, digest in metadata["files"].items()
        )
    except (OSError, ValueError):
        return False


def normal_mode():
    """Permission bits of a folder made by ``mkdir`` under the current umask (0o777 & ~umask).

    ``tempfile.mkdtemp`` makes 0o700 folders; a saved preset should be readable as any folder.

    Example:
        >>> os.chmod(staging, normal_mode())
    """
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask
