"""The command-line side of a pretraining run: shared flags, schedule and fit, run record.

The pretraining scripts in ``examples/`` differ in data and model; what they share (the
optimiser flags and their defaults, warmup + cosine schedule, resumable fit, and the record of
the run published with a preset) lives here so that every script records a run the same way.
"""

import argparse
import contextlib

from keras_cpc import distribute
from keras_cpc.optimizers import (
    OPTIMIZERS,
    WarmupCosineDecay,
    default_learning_rate,
    default_weight_decay,
    make_optimizer,
)
from keras_cpc.presets.loading import global_dtype_policy
from keras_cpc.training.process import prepare_process
from keras_cpc.training.records import (
    exact_command,
    hardware_info,
    relative_to_data_root,
    source_version,
)
from keras_cpc.training.resumable import fit_resumable
from keras_cpc.training.threads import add_threads_flag

# Flags whose values are paths: the record writes them relative to the data root.
PATH_FLAGS = ("data", "checkpoint_dir", "save_preset")
# Flags that change nothing in the result, left out of the recorded hyperparameters.
UNRECORDED_FLAGS = ("verbose", "threads")
_JIT = {"auto": "auto", "true": True, "false": False}
# Keras dtype policies a run may build its model under (`dtype_policy_scope`).
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def add_dtype_policy_flag(parser):
    """Add ``--dtype-policy`` (float32 | mixed_bfloat16 | mixed_float16) to a parser or group.

    Shared by the scripts whose models train correctly under mixed precision; the value is
    applied with `dtype_policy_scope` around model construction and recorded with the run.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_dtype_policy_flag(parser)
    """
    parser.add_argument(
        "--dtype-policy",
        default="float32",
        choices=DTYPE_POLICIES,
        help="Keras dtype policy of the model: mixed_* computes in half precision with float32 "
        "weights (augmentation, loss, metrics and optimizer stay float32)",
    )


@contextlib.contextmanager
def dtype_policy_scope(name):
    """Build models under the Keras dtype policy ``name``; the previous policy is restored.

    Layers take the global policy when constructed, so only construction needs the scope:
    the model then trains and saves as built (weights stay float32; a saved preset's config
    carries no policy and loads as float32).

    Args:
        name: one of `DTYPE_POLICIES`.

    Example:
        >>> with dtype_policy_scope("mixed_bfloat16"):
        ...     backbone = ResNetBackbone(18, 1.0, stem="cifar")  # doctest: +SKIP
    """
    if name not in DTYPE_POLICIES:
        raise ValueError(f"Expected a dtype policy in {DTYPE_POLICIES}; received {name!r}.")
    with global_dtype_policy(name):
        yield


def run_parser(
    description,
    *,
    epochs,
    batch_size,
    optimizer,
    learning_rate=None,
    unit="examples",
    mixed_precision=False,
):
    """A parser holding the flags every pretraining script shares, for the script to extend.

    The shared flags (schedule, optimiser, checkpoints, preset) form their own ``--help``
    group, listed after the script's own flags.

    Args:
        description: the ``--help`` description (a script passes its docstring's first part).
        epochs, batch_size, optimizer, learning_rate: the script's defaults (``learning_rate``
            None: the optimiser's default for the batch size, `default_learning_rate`).
        unit: what one training example is called in the help text ("images", "clips").
        mixed_precision: add ``--dtype-policy`` (`add_dtype_policy_flag`); only for scripts
            that build their model in `dtype_policy_scope`.

    Returns:
        An `argparse.ArgumentParser` whose ``--help`` shows the defaults.

    Example:
        >>> parser = run_parser("Pretrain.", epochs=30, batch_size=256, optimizer="adamw")
        >>> parser.add_argument("--data")
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    group = parser.add_argument_group("training run")
    add = group.add_argument
    rate = "peak of warmup + cosine" + ("" if learning_rate else " (default: per optimiser)")
    add("--epochs", type=int, default=epochs)
    add("--steps-per-epoch", type=int, help=f"default: one pass over the training {unit}")
    add("--batch-size", type=int, default=batch_size)
    add("--optimizer", default=optimizer, choices=OPTIMIZERS, help="adam: no decay")
    add("--learning-rate", type=float, default=learning_rate, help=rate)
    add("--weight-decay", type=float, help="default 0 for adam, 5e-4 for sgd, else 1e-6")
    add("--warmup-epochs", type=float, default=1.0)
    add("--seed", type=int, default=0)
    add("--jit-compile", default="auto", choices=tuple(_JIT))
    add("--run-eagerly", action="store_true", help="no compiled step (debugging, tiny runs)")
    add("--distribute", action="store_true", help="data parallel on the backend's engine "
        "(devices; torchrun, TF_CONFIG or KERAS_DISTRIBUTION_* processes): --batch-size is "
        "the global batch")  # fmt: skip
    add("--checkpoint-dir", help="resumable checkpoints and loss logs")
    add("--save-preset", help="write the trained backbone as a preset here")
    add("--preset-name", help="name in the model card (default: folder name)")
    add("--overwrite", action="store_true", help="replace an existing preset")
    add("--checkpoint-every", type=int, default=1, help="epochs between checkpoints")
    add(
        "--step-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="steps.csv, one row per step (waits for the device each step: off on fast GPUs)",
    )
    add("--verbose", type=int, default=1, help="Keras fit verbosity (1 = bar)")
    add_threads_flag(group)
    if mixed_precision:
        add_dtype_policy_flag(group)
    return parser


def parse_run_flags(parser, argv=None):
    """Parse, then fill the optimiser defaults in, so that the record holds the values used.

    Args:
        parser: a `run_parser` (with the script's flags, optionally ``--probe``).
        argv: the arguments (None: ``sys.argv[1:]``).

    It applies ``--threads`` and the heap settings (`keras_cpc.training.prepare_process`)
    before anything is built. With ``--distribute`` it also starts the engine's data-parallel run
    (`keras_cpc.distribute.start`), and checks that the global ``--batch-size`` divides over
    the devices and processes.

    Returns:
        The `argparse.Namespace`, ``learning_rate`` and ``weight_decay`` never None.

    Example:
        >>> args = parse_run_flags(parser, ["--optimizer", "sgd"])
    """
    args = parser.parse_args(argv)
    if getattr(args, "probe", False) and not args.save_preset:
        raise SystemExit("--probe needs --save-preset (the probe reads the saved preset).")
    args.learning_rate = args.learning_rate or default_learning_rate(
        args.optimizer, args.batch_size
    )
    if args.weight_decay is None:
        args.weight_decay = default_weight_decay(args.optimizer)
    # Before the first op: TensorFlow and JAX fix their thread pools then.
    prepare_process(getattr(args, "threads", None))
    if getattr(args, "distribute", False):
        description = distribute.start()
        distribute.per_process_batch(args.batch_size)  # a clear error if it does not divide
        if distribute.is_chief():
            print(description, flush=True)
    return args


def fit_pretrainer(pretrainer, dataset, args, callbacks=None):
    """Compile with the flags' optimiser on a warmup + cosine schedule, then `fit_resumable`.

    Args:
        pretrainer: an uncompiled pretrainer (any `keras.Model` whose loss is its own).
        dataset: a `keras.utils.PyDataset` of known length (one epoch).
        args: flags from `parse_run_flags`.
        callbacks: extra Keras callbacks for `fit_resumable`.

    Data parallel (``--distribute``): each process trains on its rows of every global batch
    (`keras_cpc.distribute.shard_batches`); only the chief process logs and writes
    checkpoints, all resume from them.

    Returns:
        The summary of `fit_resumable`.

    Example:
        >>> summary = fit_pretrainer(pretrainer, batches, args)
    """
    steps = len(dataset) * args.epochs
    # Warmup never outlasts the run (a smoke run of one epoch with two steps).
    warmup = min(int(args.warmup_epochs * len(dataset)), steps)
    schedule = WarmupCosineDecay(args.learning_rate, warmup, steps)
    optimizer = make_optimizer(args.optimizer, schedule, args.weight_decay)
    pretrainer.compile(
        optimizer=optimizer, jit_compile=_JIT[args.jit_compile], run_eagerly=args.run_eagerly
    )
    chief = distribute.is_chief()
    return fit_resumable(
        pretrainer,
        distribute.shard_batches(dataset),
        args.epochs,
        args.checkpoint_dir,
        args.verbose if chief else 0,
        write=chief,
        callbacks=callbacks,
        checkpoint_every=args.checkpoint_every,
        log_steps=args.step_log,
    )


def run_record(script, argv, args, summary):
    """What a preset publishes about the run that made it, with no path of this machine.

    Args:
        script: the script run (``__file__``).
        argv: its arguments (None: ``sys.argv[1:]``).
        args: the parsed flags; path flags are written relative to the data root.
        summary: the summary of `fit_pretrainer` / `fit_resumable`.

    Returns:
        Metadata entries ``training_command``, ``source_commit``, ``seed``,
        ``hyperparameters``, ``training`` and ``hardware``.

    Example:
        >>> metadata = {"description": "...", **run_record(__file__, argv, args, summary)}
    """
    hyperparameters = {
        key: relative_to_data_root([value])[0] if key in PATH_FLAGS and value else value
        for key, value in vars(args).items()
        if key not in UNRECORDED_FLAGS
    }
    return {
        "training_command": exact_command(script, argv),
        "source_commit": source_version(),
        "seed": args.seed,
        "hyperparameters": hyperparameters,
        "training": summary,
        "hardware": hardware_info(),
    }


def simclr_objective_line(hyperparameters, feature_dim):
    """The model card's SimCLR objective line, from a run's flags (a dict or a namespace).

    Parts a run did not record (older presets) are left out.

    Args:
        hyperparameters: ``vars(args)`` of `examples/pretrain_simclr.py`, or the
            ``hyperparameters`` of a preset's metadata.
        feature_dim: the backbone's feature width, the head's hidden width by default.

    Example:
        >>> simclr_objective_line({"temperature": 0.5, "jitter_strength": 0.5}, 512)
        '- Objective: SimCLR NT-Xent, temperature 0.5, colour strength 0.5'
    """
    h = dict(vars(hyperparameters) if hasattr(hyperparameters, "__dict__") else hyperparameters)
    parts = [f"temperature {h['temperature']}", f"colour strength {h['jitter_strength']}"]
    if "grayscale_probability" in h:
        parts.append(f"grayscale p {h['grayscale_probability']:g}")
    if "blur" in h:
        parts.append(f"blur {'on' if h['blur'] else 'off'}")
    if "crop_scale" in h:
        low, high = h["crop_scale"]
        parts.append(f"crops {h.get('crop_sampling', 'ours')} sampler, area {low:g}-{high:g}")
    if "projection_layers" in h:
        hidden = h.get("head_hidden") or feature_dim
        norm = "with" if h.get("head_batch_norm", True) else "no"
        parts.append(
            f"projection head {h['projection_layers']} layers {hidden} -> "
            f"{h['projection_dim']} ({norm} batch norm)"
        )
    return "- Objective: SimCLR NT-Xent, " + ", ".join(parts)


def optimizer_card_line(args, summary):
    """The model card's line on optimiser and schedule, from the flags and the fit summary.

    Example:
        >>> optimizer_card_line(args, summary)
        '- Optimiser: adamw, peak 0.001, weight decay 1e-06, batch 256, 30 epochs x 176 ...'
    """
    line = (
        f"- Optimiser: {args.optimizer}, peak {args.learning_rate:g}, weight decay "
        f"{args.weight_decay:g}, batch {args.batch_size}, {summary['epochs']} epochs x "
        f"{summary['steps_per_epoch']} steps = {summary['steps']} steps, warmup "
        f"{args.warmup_epochs} epoch(s) then cosine"
    )
    if getattr(args, "dtype_policy", None):
        line += f", dtype policy {args.dtype_policy}"
    return line
