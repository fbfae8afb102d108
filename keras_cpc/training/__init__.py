"""Training: exact kill-and-resume (`fit_resumable`), step and epoch logs, run records, and
the shared side of pretraining scripts (`run_parser`, `fit_pretrainer`, `run_record`).

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
    "Timer",
    "accelerators",
    "add_dtype_policy_flag",
    "data_root",
    "dtype_policy_scope",
    "enable_determinism",
    "exact_command",
    "fit_pretrainer",
    "fit_resumable",
    "hardware_info",
    "optimizer_card_line",
    "parse_run_flags",
    "portable_path",
    "read_csv",
    "relative_to_data_root",
    "run_parser",
    "run_record",
    "source_version",
    "total_epoch_seconds",
    "training_state_variables",
    "write_json",
]
