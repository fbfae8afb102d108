"""Run records: the exact command, source version, hardware, timings, written as JSON.

Everything written here is meant for preset metadata and model cards that are published, so
no absolute path of the machine that ran the job is ever recorded: data paths are written
relative to a data root (``$DATA/cifar10/train``), other paths relative to the working
directory, and any other local path as ``<local>/name``.
"""

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from keras_cpc.training.backend_specific import accelerators

DATA_ROOT_ENV = "KERAS_CPC_DATA"
DEFAULT_DATA_ROOT = "~/data"
DATA_PLACEHOLDER = "$DATA"
LOCAL_PLACEHOLDER = "<local>"


def data_root(root=None):
    """The data root: ``root``, else ``$KERAS_CPC_DATA``, else ``~/data`` (the examples' default).

    Args:
        root: a folder, or None to read the environment.

    Returns:
        The absolute path of the data root, as a string.

    Example:
        >>> data_root("/datasets")
        '/datasets'
    """
    root = root or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return os.path.abspath(os.path.expanduser(str(root)))


def _is_under(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def portable_path(path, root=None, cwd=None):
    """``path`` as it may be published: ``$DATA/...``, relative to ``cwd``, or ``<local>/name``.

    Relative paths that stay inside ``cwd`` are kept as written; anything else is made
    absolute first (``~`` expanded), then written relative to the data root when under it,
    relative to ``cwd`` when under it, and as ``<local>/<last part>`` otherwise.

    Args:
        path: a path (str or `pathlib.Path`).
        root: the data root (see `data_root`).
        cwd: the working directory (default: the current one).

    Returns:
        A string without any absolute path of this machine.

    Example:
        >>> portable_path("/data/cifar10/train", root="/data")
        '$DATA/cifar10/train'
    """
    text = str(path)
    cwd = os.path.abspath(cwd or os.getcwd())
    full = os.path.abspath(os.path.join(cwd, os.path.expanduser(text)))
    root = data_root(root)
    if _is_under(full, root):
        relative = os.path.relpath(full, root)
        return DATA_PLACEHOLDER if relative == "." else f"{DATA_PLACEHOLDER}/{relative}"
    if _is_under(full, cwd):
        if not os.path.isabs(os.path.expanduser(text)) and not text.startswith("~"):
            return text
        return os.path.relpath(full, cwd)
    return f"{LOCAL_PLACEHOLDER}/{os.path.basename(full.rstrip(os.sep)) or 'root'}"


def _looks_like_path(text):
    return text.startswith(("/", "~", "./", "../")) or ("/" in text and ":" not in text)


def relative_to_data_root(argv, data_root=None, cwd=None):
    """Command-line arguments with every path made portable (see `portable_path`).

    A token is taken for a path when it starts with ``/``, ``~``, ``./`` or ``../``, or holds
    a ``/`` and no ``:`` (so ``tfds:cifar10`` and URLs are left alone); ``--opt=PATH`` tokens
    have their value rewritten.

    Args:
        argv: the arguments (strings or paths).
        data_root: the data root; None reads ``$KERAS_CPC_DATA``, then uses ``~/data``.
        cwd: the working directory paths are made relative to (default: the current one).

    Returns:
        A new list of strings.

    Example:
        >>> relative_to_data_root(["--data", "/d/cifar10/train", "--epochs", "3"], "/d")
        ['--data', '$DATA/cifar10/train', '--epochs', '3']
    """
    out = []
    for token in map(str, argv):
        if token.startswith("--") and "=" in token:
            option, value = token.split("=", 1)
            if _looks_like_path(value):
                token = f"{option}={portable_path(value, data_root, cwd)}"
        elif _looks_like_path(token):
            token = portable_path(token, data_root, cwd)
        out.append(token)
    return out


def exact_command(script=None, argv=None, data_root=None, cwd=None):
    """The command line of this run, quoted so it can be pasted back, with portable paths.

    Args:
        script: the script that was run (default ``sys.argv[0]``); written relative to the
            working directory, the folder the command is meant to be run from.
        argv: its arguments (default ``sys.argv[1:]``; pass the list given to ``main`` when
            called in-process).
        data_root: see `relative_to_data_root`.
        cwd: the working directory (default: the current one).

    Returns:
        A string such as ``python examples/pretrain_simclr.py --data $DATA/cifar10/train``.

    Example:
        >>> exact_command("examples/pretrain_cpc.py", ["--epochs", "2"])
        'python examples/pretrain_cpc.py --epochs 2'
    """
    script = script or sys.argv[0]
    argv = sys.argv[1:] if argv is None else argv
    parts = ["python", *relative_to_data_root([script, *argv], data_root, cwd)]
    return " ".join(_quote(part) for part in parts)


def _quote(part):
    # $DATA stays unquoted so that the pasted command expands it.
    if part.startswith(DATA_PLACEHOLDER) and shlex.quote(part[1:]) == part[1:]:
        return part
    return shlex.quote(part)


def source_version(folder=None):
    """Git commit of the checkout holding ``folder`` (default: this package), or None.

    Example:
        >>> version = source_version()  # "0f3c..." in a git checkout, None in a wheel
    """
    folder = Path(folder or Path(__file__).resolve().parent)
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info():
    """Where this runs: CPU model and cores, accelerators, platform, Python, Keras and backend.

    Example:
        >>> sorted(hardware_info())[:3]
        ['accelerators', 'backend', 'cpu']
    """
    import keras

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_name(),
        "cpu_cores_visible": os.cpu_count(),
        "cpu_cores_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "accelerators": accelerators(),
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"Expected JSON data (numbers, strings, lists, dicts, numpy values, paths); received "
        f"{type(value).__name__}: {value!r}."
    )


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically: readers see the old file or the new one.

    The text goes to a temporary file in the same folder, is flushed to disk, then renamed
    over ``path``, so a kill mid-write never leaves a truncated file. NumPy scalars and arrays
    are written as numbers and lists.

    Args:
        path: the file to write (its folder is created).
        data: JSON-serialisable data.

    Example:
        >>> write_json("/tmp/summary.json", {"steps": np.int64(8)})
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, default=_json_default) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


class Timer:
    """Context manager measuring wall time: ``with Timer() as t: ...`` then ``t.seconds``.

    Example:
        >>> with Timer() as timer:
        ...     _ = sum(range(1000))
        >>> timer.seconds >= 0
        True
    """

    def __init__(self):
        self.start = None
        self.seconds = None

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
