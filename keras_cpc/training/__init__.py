"""Training: exact kill-and-resume (`fit_resumable`), step and epoch logs, run records, and
the shared side of pretraining scripts (`run_parser`, `fit_pretrainer`, `run_record`), and the
CPU thread cap and heap settings of processes we own (`prepare_process`: `set_threads` and
`keep_freed_memory`).

Example:
    >>> from keras_cpc.training import fit_resumable, enable_determinism
    >>> summary = fit_resumable(pretrainer, batches, epochs=30, checkpoint_dir="runs/a")
    ... # doctest: +SKIP
"""

from keras_cpc.training.backend_specific import accelerators, enable_determinism
from keras_cpc.training.callbacks import EpochTimes, StepLog, read_csv, total_epoch_seconds
from keras_cpc.training.checkpoints import (
    Checkpoint,
    CheckpointStore,
    RestoreCheckpoint,
    SaveCheckpoint,
    training_state_variables,
)
from keras_cpc.training.heap import keep_freed_memory
from keras_cpc.training.process import prepare_process
from keras_cpc.training.records import (
    DATA_ROOT_ENV,
    Timer,
    data_root,
    exact_command,
    hardware_info,
    portable_path,
    relative_to_data_root,
    source_version,
    write_json,
)
from keras_cpc.training.resumable import SetEpoch, fit_resumable
from keras_cpc.training.runs import (
    DTYPE_POLICIES,
    add_dtype_policy_flag,
    dtype_policy_scope,
    fit_pretrainer,
    optimizer_card_line,
    parse_run_flags,
    run_parser,
    run_record,
    simclr_objective_line,
)
from keras_cpc.training.threads import (
    THREADS_ENV,
    add_threads_flag,
    resolve_threads,
    set_threads,
)

__all__ = [
    "DATA_ROOT_ENV",
    "DTYPE_POLICIES",
    "Checkpoint",
    "CheckpointStore",
    "EpochTimes",
    "RestoreCheckpoint",
    "SaveCheckpoint",
    "SetEpoch",
    "StepLog",
    "THREADS_ENV",
    "Timer",
    "accelerators",
    "add_dtype_policy_flag",
    "add_threads_flag",
    "data_root",
    "dtype_policy_scope",
    "enable_determinism",
    "exact_command",
    "fit_pretrainer",
    "fit_resumable",
    "hardware_info",
    "keep_freed_memory",
    "optimizer_card_line",
    "parse_run_flags",
    "portable_path",
    "prepare_process",
    "read_csv",
    "relative_to_data_root",
    "resolve_threads",
    "run_parser",
    "run_record",
    "set_threads",
    "simclr_objective_line",
    "source_version",
    "total_epoch_seconds",
    "training_state_variables",
    "write_json",
]
