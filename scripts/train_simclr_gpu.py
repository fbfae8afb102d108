"""One GPU session, one SimCLR preset: check the speed, train what the time allows, save.

1. Speed check (under a minute on a GPU): the planned model trains ``--speed-check-steps``
   steps on random images, once to compile and once timed; prints seconds per step and
   epoch and the epochs the ``--time-budget`` affords after the run's own compilation and
   the final save.
2. Writes the plan (the `examples/pretrain_simclr.py` arguments, epochs included) to
   ``OUTPUT_DIR/plan.json`` and trains with that script: checkpoints every
   ``--checkpoint-every`` epochs under ``OUTPUT_DIR/run`` (atomic), the preset at the end in
   ``OUTPUT_DIR/preset`` (model card: exact command, seed, wall time, hardware, backend,
   dtype policy, epochs).
3. Run again with the same ``--output-dir`` after a kill: the plan is read back (no speed
   check) and training resumes from the last checkpoint, then saves the preset (on JAX the
   compiled step comes from ``OUTPUT_DIR/jax_cache``). The linear
   probe runs afterwards, on CPU: ``python examples/linear_probe.py OUTPUT_DIR/preset ...``.

The default recipe is the SGD one (dkobak/simclr-cifar10's: SGD 0.06 x batch / 256, L2 5e-4,
head 512-1024-128 without batch norm, crop area 0.2-1, temperature 0.5; plus 2 warmup epochs)
at the preset's size: ResNet-18 width 1, batch 512, ``mixed_bfloat16``, images on the device,
no per-step log.
Flags after ``--`` go to `examples/pretrain_simclr.py` and override these defaults. JAX is the
default backend (``KERAS_BACKEND`` picks another). Example::

    python scripts/train_simclr_gpu.py --output-dir runs/simclr_gpu --time-budget 540 \\
        -- --data $DATA/cifar10/train
"""

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

START = time.perf_counter()
PRETRAIN = Path(__file__).resolve().parents[1] / "examples" / "pretrain_simclr.py"
PLAN_FILE = "plan.json"
RECIPE = [
    "--width", "1.0", "--batch-size", "512", "--optimizer", "sgd", "--head-hidden", "1024",
    "--no-head-batch-norm", "--crop-scale", "0.2", "1.0", "--temperature", "0.5",
    "--warmup-epochs", "2",
    "--dtype-policy", "mixed_bfloat16", "--data-on-device", "--no-step-log", "--verbose", "2",
    "--seed", "0", "--preset-name", "simclr_resnet18_cifar10",
]  # fmt: skip


def parse_args(argv=None):
    """This script's flags, and the ones after ``--`` for `examples/pretrain_simclr.py`."""
    own = sys.argv[1:] if argv is None else list(argv)
    passed = []
    if "--" in own:
        own, passed = own[: own.index("--")], own[own.index("--") + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--output-dir", required=True, help="plan, checkpoints (run/) and preset (preset/)")
    add("--time-budget", type=float, default=540.0, help="seconds for the whole script")
    add("--epochs", type=int, help="train this many epochs (no speed check)")
    add("--max-epochs", type=int, help="at most this many epochs")
    add("--speed-check-steps", type=int, default=20)
    add("--checkpoint-every", type=int, default=5, help="epochs between checkpoints")
    add("--reserve", type=float, default=20.0, help="seconds kept for the final save")
    add("--deterministic", action="store_true", help="deterministic GPU kernels (slower)")
    return parser.parse_args(own), passed


def load_pretrain_script():
    spec = importlib.util.spec_from_file_location("pretrain_simclr", PRETRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed_check(pretrain, script_argv, steps):
    """Seconds of the first (compiling) epoch and per step of the planned model, on noise."""
    import gc

    import keras
    import numpy as np

    from keras_cpc import training

    run = training.parse_run_flags(pretrain.build_parser(), [*script_argv, "--epochs", "2"])
    run.steps_per_epoch, run.checkpoint_dir, run.verbose = None, None, 0  # noise, no files
    rng = np.random.default_rng(0)
    shape = (steps * run.batch_size, run.image_size, run.image_size, 3)
    images = rng.integers(0, 256, shape, dtype="uint8")
    labels = rng.integers(0, 10, len(images)).astype("int32")
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    batches = pretrain.make_batches(run, images, labels)
    pretrainer = pretrain.build_pretrainer(run, num_classes=10)
    training.fit_pretrainer(pretrainer, batches, run, callbacks=[Timer()])
    del pretrainer, batches  # free the device before the real run
    keras.backend.clear_session()
    gc.collect()
    return times[0], times[1] / steps, run


def plan_run(args, passed, pretrain):
    """The plan: arguments of `examples/pretrain_simclr.py` and the speed check's figures."""
    script_argv = [*RECIPE, *passed, "--checkpoint-every", str(args.checkpoint_every)]
    check = {}
    epochs = args.epochs
    if epochs is None:
        compile_s, step_s, run = speed_check(pretrain, script_argv, args.speed_check_steps)
        # Training images: the script's split (held-out share of every class) of the data.
        from keras_cpc import data

        labels = data.ImageFolder(run.data, image_size=run.image_size).labels
        train, _ = data.stratified_holdout(labels, run.holdout_fraction, run.seed)
        count = len(data.subset(train, run.limit, run.seed))
        steps = run.steps_per_epoch or count // run.batch_size
        epoch_s = steps * step_s
        left = args.time_budget - (time.perf_counter() - START) - compile_s - args.reserve
        epochs = max(1, int(left / (1.05 * epoch_s)))  # 5% for checkpoints and epoch ends
        check = {
            "compile_and_first_epoch_s": round(compile_s, 2),
            "seconds_per_step": round(step_s, 4),
            "steps_per_epoch": steps,
            "projected_seconds_per_epoch": round(epoch_s, 2),
            "seconds_left_for_training": round(left, 1),
            "projected_epochs": epochs,
        }
        print(
            f"Speed check: {step_s:.4f} s/step, {epoch_s:.2f} s/epoch ({steps} steps), first "
            f"epoch with compilation {compile_s:.1f} s; {left:.0f} s left: {epochs} epochs",
            flush=True,
        )
    if args.max_epochs:
        epochs = min(epochs, args.max_epochs)
    return {"pretrain_argv": [*script_argv, "--epochs", str(epochs)], "epochs": epochs, **check}


def write_json_atomic(path, payload):
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(payload, indent=1))
    os.replace(partial, path)


def main(argv=None):
    args, passed = parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # JAX keeps its compiled steps here (read before JAX starts; other backends ignore it):
    # a run resumed after a kill does not compile its step again.
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(out / "jax_cache"))
    pretrain = load_pretrain_script()
    from keras_cpc import training

    if args.deterministic:
        training.enable_determinism()
    plan_path = out / PLAN_FILE
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())
        print(
            f"Resuming the plan of {plan_path}: {plan['epochs']} epochs (its flags and budget; "
            "the ones given now are not used)",
            flush=True,
        )
    else:
        plan = plan_run(args, passed, pretrain)
        plan["time_budget_s"] = args.time_budget
        write_json_atomic(plan_path, plan)
    script_argv = [
        *plan["pretrain_argv"], "--checkpoint-dir", str(out / "run"),
        "--save-preset", str(out / "preset"), "--overwrite",
    ]  # fmt: skip
    launcher = {
        "command": training.exact_command(__file__, argv),
        "plan": {key: value for key, value in plan.items() if key != "pretrain_argv"},
    }
    summary = pretrain.main(script_argv, extra_metadata={"launcher": launcher})
    total = time.perf_counter() - START
    print(f"Preset in {out / 'preset'}; {summary['epochs']} epochs; {total:.0f} s in this process")
    return summary


if __name__ == "__main__":
    main()
