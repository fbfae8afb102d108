"""`fit_resumable`: ``model.fit`` that a kill (at any moment) and a rerun turn into the same run."""

from pathlib import Path

import keras

from keras_cpc.training.callbacks import EpochTimes, StepLog, total_epoch_seconds
from keras_cpc.training.checkpoints import CheckpointStore, RestoreCheckpoint, SaveCheckpoint
from keras_cpc.training.records import Timer, write_json

CHECKPOINTS_FOLDER = "checkpoints"
STEPS_LOG = "steps.csv"
EPOCHS_LOG = "epochs.csv"
SUMMARY_FILE = "summary.json"


class SetEpoch(keras.callbacks.Callback):
    """Calls ``dataset.set_epoch(epoch)`` at the start of each epoch (as torch's samplers).

    Args:
        dataset: an object with a ``set_epoch(epoch)`` method whose batches are then a
            function of (its seed, epoch), e.g. `keras_cpc.data.images.ImageBatches`.
    """

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.set_epoch(epoch)


def _steps_per_epoch(dataset, steps_per_epoch):
    try:
        length = len(dataset)
    except TypeError:
        return steps_per_epoch, steps_per_epoch  # no length: fit needs the count
    if steps_per_epoch is not None and int(steps_per_epoch) != length:
        raise ValueError(
            f"Expected `steps_per_epoch` to equal the dataset's length, {length} batches, or "
            f"None; received steps_per_epoch={steps_per_epoch!r}. Fit would carry one iterator "
            "across epochs and a resumed run could not repeat the batches: give the dataset "
            "its number of steps instead."
        )
    return length, None


def fit_resumable(
    model,
    dataset,
    epochs,
    checkpoint_dir=None,
    verbose="auto",
    callbacks=None,
    steps_per_epoch=None,
    keep=2,
    checkpoint_every=1,
    log_steps=True,
    write=True,
):
    """Train with ``model.fit``, resuming exactly from the last checkpoint in ``checkpoint_dir``.

    With a ``checkpoint_dir``, the full training state (weights, optimizer, the state of
    every seed generator the model tracks) is saved atomically at each epoch end (every
    ``checkpoint_every`` epochs and after the last), under ``checkpoint_dir/checkpoints``. A
    rerun with the same arguments restores the newest checkpoint that verifies (a damaged one
    is skipped with a warning naming it) and trains the remaining epochs. When the dataset
    has ``set_epoch(epoch)`` and its batches are a function of (seed, epoch), as
    `keras_cpc.data`'s datasets, the rerun sees the batches the uninterrupted run saw, and a
    run killed mid-epoch ends with bit-identical weights (the epochs since the last checkpoint
    are redone from its start). Batches are taken in the dataset's order (``shuffle=False``:
    the dataset shuffles, as a function of its epoch). For GPU runs also call
    `keras_cpc.training.enable_determinism` at the start.

    The folder also gets ``steps.csv`` (one row per step), ``epochs.csv`` (one row per epoch,
    with its wall time) and ``summary.json``; the logs read as if the run had never stopped.

    Args:
        model: a compiled, built `keras.Model`, constructed as in the interrupted run.
        dataset: what ``fit`` takes as ``x`` (a `keras.utils.PyDataset`, tf.data, a torch
            ``DataLoader``...), with ``set_epoch`` for exact resumes.
        epochs: total number of epochs of the run (not the number left).
        checkpoint_dir: folder of checkpoints, logs and summary; None trains without them.
        verbose: passed to ``fit``; also prints the resume point and a summary line unless 0.
        callbacks: more Keras callbacks (run after the logs, before the checkpoint save).
        steps_per_epoch: only for datasets without a length; one with a length must give
            the steps itself (a ``steps_per_epoch`` different from it is refused).
        keep: how many newest checkpoints are kept (>= 2).
        checkpoint_every: save after every this many epochs and after the last (a kill then
            redoes up to ``checkpoint_every`` epochs; the result is the same).
        log_steps: write ``steps.csv``; reading each step's loss waits for the device every
            step, which costs a fast accelerator its run-ahead (False: ``epochs.csv`` only).
        write: False in the other processes of a data-parallel run (`keras_cpc.distribute`):
            they resume from the checkpoints the chief process writes, and write nothing.

    Returns:
        A dict: ``steps`` (optimizer steps in all), ``steps_per_epoch``, ``epochs``,
        ``initial_epoch`` (finished epochs found at start), ``wall_time_s_this_process``,
        ``wall_time_s_all_epochs`` (sum of the epochs' times, None without a folder) and
        ``final_epoch_metrics`` (of the last epoch, also when it ran in an earlier process).

    Example:
        >>> summary = fit_resumable(pretrainer, batches, epochs=30, checkpoint_dir="runs/a")
        ... # doctest: +SKIP
    """
    if int(epochs) < 1:
        raise ValueError(f"Expected `epochs` >= 1; received epochs={epochs!r}.")
    epochs = int(epochs)
    steps, fit_steps = _steps_per_epoch(dataset, steps_per_epoch)
    checkpoint, initial_epoch = None, 0
    logs = []
    if checkpoint_dir is not None:
        folder = Path(checkpoint_dir)
        store = CheckpointStore(folder / CHECKPOINTS_FOLDER, keep=keep)
        checkpoint = store.latest()
        if checkpoint is not None:
            initial_epoch = checkpoint.epoch
            if initial_epoch > epochs:
                raise ValueError(
                    f"Expected at most `epochs`={epochs} finished epochs in {folder}; its "
                    f"newest checkpoint ({checkpoint.path}) has {initial_epoch}. Ask for at "
                    "least as many epochs or use a new folder."
                )
            if verbose:
                print(f"Resuming from {checkpoint.path}: {initial_epoch} of {epochs} epochs done")
        logs = [StepLog(folder / STEPS_LOG)] if log_steps else []
        logs.append(EpochTimes(folder / EPOCHS_LOG))
        if not write:
            logs = []  # the chief process writes them
    if hasattr(dataset, "set_epoch"):
        # Also before fit: fit may read a first batch to build the model.
        dataset.set_epoch(initial_epoch)
        logs.insert(0, SetEpoch(dataset))
    everything = [RestoreCheckpoint(checkpoint), *logs, *(callbacks or [])]
    if checkpoint_dir is not None and write:
        everything.append(SaveCheckpoint(store, checkpoint_every, last_epoch=epochs))

    with Timer() as timer:
        history = model.fit(
            dataset,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=fit_steps,
            # Fit would otherwise reorder a PyDataset's batches from numpy's global generator,
            # which a resumed process cannot replay: the dataset owns its order.
            shuffle=False,
            callbacks=everything,
            verbose=verbose,
        )
    final = {key: float(values[-1]) for key, values in history.history.items() if values}
    if not final and checkpoint is not None:
        final = dict(checkpoint.logs)  # the run had already finished: nothing ran now
    summary = {
        "steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "steps_per_epoch": steps,
        "epochs": epochs,
        "initial_epoch": initial_epoch,
        "wall_time_s_this_process": round(timer.seconds, 1),
        "wall_time_s_all_epochs": None,
        "final_epoch_metrics": final,
    }
    if checkpoint_dir is not None and write:
        summary["wall_time_s_all_epochs"] = total_epoch_seconds(folder / EPOCHS_LOG)
        write_json(folder / SUMMARY_FILE, summary)
    if verbose:
        print(
            f"Done: {summary['steps']} steps in total, {timer.seconds:.1f} s in this process; "
            f"{final}"
        )
    return summary
