"""Exact training checkpoints: model, optimizer and random-generator state, written atomically.

A checkpoint holds every variable a training step reads and writes: the model's
``variables`` (weights, batch-norm statistics and the state of every `keras.random.SeedGenerator`
the model's layers track, e.g. `SimCLRAugmentation`'s and `CPCPretrainer`'s) and the
optimizer's ``variables`` (iteration count, moments). With a dataset whose batches are a
function of (seed, epoch), restoring one and rerunning the following epochs repeats the
uninterrupted run exactly.

Layout: ``<directory>/epoch-000003/`` holds ``variables.npz`` and ``manifest.json`` (finished
epochs, the epoch's metrics, the variables' paths, shapes and dtypes, the sha256 of the
arrays). Each checkpoint is written into a ``.partial-*`` folder and renamed into place, so a
kill mid-write leaves the previous checkpoints intact; the newest ``keep`` are kept.
"""

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import keras
import numpy as np

ARRAYS_FILE = "variables.npz"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
_PREFIX = "epoch-"


def training_state_variables(model):
    """Every variable a training step of ``model`` reads or writes, in a fixed order.

    The model's ``variables`` (which, unlike ``weights``, include seed-generator states),
    then the optimizer's (built first if needed). Metric variables are not included: fit
    resets them at each epoch start.

    Example:
        >>> variables = training_state_variables(compiled_model)  # doctest: +SKIP
    """
    variables = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        variables += list(optimizer.variables)
    return variables


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path):
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class Checkpoint:
    """A verified checkpoint in memory: ``epoch`` (finished epochs), ``logs``, ``arrays``."""

    def __init__(self, path, epoch, logs, entries, arrays):
        self.path = path
        self.epoch = epoch
        self.logs = logs
        self.entries = entries
        self.arrays = arrays

    def assign_to(self, model):
        """Assign the arrays to ``model``'s training state (see `training_state_variables`)."""
        variables = training_state_variables(model)
        if len(variables) != len(self.arrays):
            raise ValueError(
                f"Checkpoint {self.path} holds {len(self.arrays)} variables; the model being "
                f"trained has {len(variables)}. Expected the model and optimizer of the run that "
                "wrote it (same architecture and options); use another checkpoint folder."
            )
        for variable, entry, array in zip(variables, self.entries, self.arrays):
            if tuple(variable.shape) != tuple(array.shape):
                raise ValueError(
                    f"Checkpoint {self.path}: variable {entry['path']!r} has shape "
                    f"{tuple(array.shape)}; the model's {variable.path!r} expects "
                    f"{tuple(variable.shape)}. Expected the model of the run that wrote it."
                )
        for variable, array in zip(variables, self.arrays):
            variable.assign(array.astype(keras.backend.standardize_dtype(variable.dtype)))


class CheckpointStore:
    """The checkpoints of one run in ``directory``: `save`, `latest` (verified), pruning.

    Args:
        directory: folder of the checkpoints (created on the first save).
        keep: how many of the newest checkpoints to keep (at least 2, so that a damaged
            newest one always has a previous one to fall back to).

    Example:
        >>> store = CheckpointStore("run/checkpoints")
        >>> store.save(model, epoch=1, logs={"loss": 2.3})  # doctest: +SKIP
        >>> store.latest().assign_to(model)  # doctest: +SKIP
    """

    def __init__(self, directory, keep=2):
        if int(keep) < 2:
            raise ValueError(f"`keep` must be >= 2 (a fallback); received keep={keep!r}.")
        self.directory = Path(directory)
        self.keep = int(keep)

    def folders(self):
        """Finished checkpoint folders, newest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            suffix = path.name[len(_PREFIX) :]
            if path.is_dir() and path.name.startswith(_PREFIX) and suffix.isdigit():
                found.append((int(suffix), path))
        return [path for _, path in sorted(found, reverse=True)]

    def save(self, model, epoch, logs=None):
        """Write the training state after ``epoch`` finished epochs; returns its folder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        variables = training_state_variables(model)
        arrays = {f"v{i:05d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(variables)}
        final = self.directory / f"{_PREFIX}{int(epoch):06d}"
        partial = self.directory / f".partial-{final.name}-{os.getpid()}"
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir()
        np.savez(partial / ARRAYS_FILE, **arrays)
        _fsync(partial / ARRAYS_FILE)
        manifest = {
            "format": FORMAT_VERSION,
            "epoch": int(epoch),
            "logs": {key: float(value) for key, value in (logs or {}).items()},
            "sha256": _sha256(partial / ARRAYS_FILE),
            "variables": [
                {"path": v.path, "shape": list(v.shape), "dtype": str(a.dtype)}
                for v, a in zip(variables, arrays.values())
            ],
        }
        with open(partial / MANIFEST_FILE, "w") as handle:
            json.dump(manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        if final.exists():
            # A damaged checkpoint of this epoch (skipped at restore): moved away, then replaced.
            stale = self.directory / f".stale-{final.name}-{os.getpid()}"
            os.replace(final, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(partial, final)
        _fsync(self.directory)
        for old in self.folders()[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def load(self, folder):
        """Read and verify one checkpoint folder; raises ValueError/OSError if damaged."""
        folder = Path(folder)
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"expected checkpoint format {FORMAT_VERSION}, received {manifest.get('format')!r}"
            )
        digest = _sha256(folder / ARRAYS_FILE)
        if digest != manifest["sha256"]:
            raise ValueError(
                f"{ARRAYS_FILE} has sha256 {digest}, the manifest expects {manifest['sha256']} "
                "(damaged or partly written)"
            )
        entries = manifest["variables"]
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as data:
            arrays = [data[f"v{i:05d}"] for i in range(len(entries))]
        return Checkpoint(folder, int(manifest["epoch"]), manifest["logs"], entries, arrays)

    def latest(self):
        """The newest checkpoint that verifies, or None; each damaged one skipped with a warning.

        Leftover ``.partial-*`` folders (a kill during a save) are removed first.
        """
        if self.directory.is_dir():
            for leftover in self.directory.glob(".partial-*"):
                shutil.rmtree(leftover, ignore_errors=True)
        folders = self.folders()
        for position, folder in enumerate(folders):
            try:
                return self.load(folder)
            except (OSError, ValueError, KeyError, TypeError) as error:
                fallback = (
                    f"falling back to {folders[position + 1].name}"
                    if position + 1 < len(folders)
                    else "no older checkpoint left: training starts from epoch 0"
                )
                warnings.warn(
                    f"Skipping damaged checkpoint {folder} ({type(error).__name__}: {error}); "
                    f"{fallback}.",
                    stacklevel=2,
                )
        return None


class RestoreCheckpoint(keras.callbacks.Callback):
    """Assigns a loaded `Checkpoint` when training begins (once the optimizer is built).

    Put it first in the callback list, so that every other callback sees the restored state.
    """

    def __init__(self, checkpoint):
        super().__init__()
        self.checkpoint = checkpoint

    def on_train_begin(self, logs=None):
        if self.checkpoint is not None:
            self.checkpoint.assign_to(self.model)


class SaveCheckpoint(keras.callbacks.Callback):
    """Saves the training state into a `CheckpointStore` every ``every`` epochs and at the end.

    Put it last in the callback list: the epoch's logs are then written before its
    checkpoint, and a kill between the two only leaves log rows that a resume drops and
    writes again.

    Args:
        store: the `CheckpointStore`.
        every: save after epochs ``every, 2 * every, ...`` (counted from the run's start, so a
            resumed run keeps the same epochs) and after the last one (``last_epoch``).
        last_epoch: the run's number of epochs (None: only the ``every`` rule).
    """

    def __init__(self, store, every=1, last_epoch=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"Expected checkpoints every >= 1 epochs; received every={every!r}.")
        self.store = store
        self.every = int(every)
        self.last_epoch = last_epoch

    def on_epoch_end(self, epoch, logs=None):
        finished = epoch + 1
        if finished % self.every == 0 or finished == self.last_epoch:
            self.store.save(self.model, finished, logs)
