"""Training logs that survive a kill and a resume: one CSV row per step, one per epoch.

Both logs are rewritten on the first epoch of a (re)started run so that they end up as if the
run had never been interrupted: rows of the part that is redone are dropped first.
"""

import csv
import time
from pathlib import Path

import keras


def read_csv(path):
    """Rows of a CSV file as a list of dicts (strings), ``[]`` if the file does not exist.

    Example:
        >>> read_csv("/nonexistent/steps.csv")
        []
    """
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _rows_below(rows, column, limit):
    """Rows whose integer ``column`` is < ``limit``; rows cut short by a kill are dropped."""
    kept = []
    for row in rows:
        try:
            value = int(row[column])
        except (KeyError, TypeError, ValueError):
            continue
        if value < limit and None not in row.values():
            kept.append(row)
    return kept


def _write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def _append_row(path, row, fieldnames):
    with open(path, "a", newline="") as handle:
        # Metrics missing from the header (or from this row) are left out / blank.
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="ignore")
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerow(row)


def _fieldnames(rows, row):
    return list(rows[0]) if rows else list(row)


class StepLog(keras.callbacks.Callback):
    """Callback writing one CSV row per training step: global step, epoch, loss and metrics.

    The global step continues over resumed runs: it starts from the optimizer's iteration
    count when training (re)starts, and rows past that count (from the part of an interrupted
    run that is redone) are dropped first. The step is counted here rather than read from
    the optimizer each step, which would force a device sync (and on JAX the optimizer's
    variables are only updated at epoch ends).

    Args:
        path: the CSV file (created with its folder; appended to over a resumed run).

    Example:
        >>> model.fit(x, epochs=2, callbacks=[StepLog("run/steps.csv")])  # doctest: +SKIP
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.rows = None
        self.step = 0
        self.epoch = 0
        self.epoch_start_step = 0

    def on_train_begin(self, logs=None):
        self.rows = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:
            # First epoch of this run: other callbacks (a checkpoint restore) are done by now.
            self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.rows = _rows_below(read_csv(self.path), "step", self.step + 1)
            _write_rows(self.path, self.rows)
        self.epoch = epoch
        self.epoch_start_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the index of the last step run (several with steps_per_execution > 1).
        self.step = self.epoch_start_step + int(batch) + 1
        row = {"step": self.step, "epoch": self.epoch}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        fieldnames = _fieldnames(self.rows, row)
        self.rows.append(row)
        _append_row(self.path, row, fieldnames)


class EpochTimes(keras.callbacks.Callback):
    """Callback writing one CSV row per epoch: epoch, wall seconds and the epoch's metrics.

    On a resumed run, rows of the epochs that are run again are dropped first, so the file
    holds each epoch of the finished run once; `total_epoch_seconds` sums them.

    Args:
        path: the CSV file (created with its folder).

    Example:
        >>> model.fit(x, epochs=2, callbacks=[EpochTimes("run/epochs.csv")])  # doctest: +SKIP
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.rows = None
        self.start = None

    def on_train_begin(self, logs=None):
        self.rows = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:
            self.rows = _rows_below(read_csv(self.path), "epoch", epoch)
            _write_rows(self.path, self.rows)
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, "seconds": round(time.perf_counter() - self.start, 3)}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        fieldnames = _fieldnames(self.rows, row)
        self.rows.append(row)
        _append_row(self.path, row, fieldnames)


def total_epoch_seconds(path):
    """Sum of the ``seconds`` column written by `EpochTimes`, or None without a file.

    Example:
        >>> total_epoch_seconds("/nonexistent/epochs.csv") is None
        True
    """
    rows = read_csv(path)
    if not rows:
        return None
    return round(sum(float(row["seconds"]) for row in rows), 1)
