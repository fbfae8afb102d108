"""keras_cpc's training steps next to the same steps written in the plain frameworks.

SimCLR (ResNet-18 CIFAR stem at each ``--width``, batch ``--batch-size`` pairs, projection
head, NT-Xent at tau 0.5) and CPC (``--cpc-arch``: the shipped preset's network by default,
at the paper's batch of 8 x 20480 samples, K=12, 128 per-anchor negatives) trained with SGD
+ momentum on every side. Peers: TensorFlow (``tf.GradientTape`` in a ``tf.function``, with
and without XLA), JAX (Flax + optax, one ``jax.jit`` step), PyTorch (NCHW and
``channels_last``; CPC: ``nn.Conv1d`` + ``nn.GRU``). Every step starts from the keras_cpc
model's weights and sees the same data; before timing, each step's loss is compared with
keras_cpc's at the same weights (first step) and after one SGD update (second step), and the
result is printed. Variants are timed in interleaved rounds (A B C A B C ...); the table shows
the best (or median) round in pairs/s (SimCLR) or clips/s (CPC) and the ratio keras_cpc /
plain. ``--inference`` adds ``predict`` features/s of the shipped presets per batch size.

Each backend runs in its own process (KERAS_BACKEND is fixed per process). Peers need the
``peers`` extra (``pip install -e ".[peers]"``: flax, optax). Timings on a shared machine
measure the neighbours: run it on a quiet one. Examples::

    python benchmarks/peers.py                                  # all backends, SimCLR + CPC
    python benchmarks/peers.py --backend torch --benchmarks simclr --width 0.25 --rounds 5
    python benchmarks/peers.py --dtype-policy mixed_bfloat16 --inference
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "PEERS_RESULT "
BACKENDS = ("tensorflow", "jax", "torch")
PEER_MODULES = {"tensorflow": "peers_tf", "jax": "peers_jax", "torch": "peers_torch"}


def sibling(name):
    """Import benchmarks/<name>.py (benchmarks/ is no package; its modules import each other)."""
    if name != "peers_common":
        sibling("peers_common")  # the one the others import by name
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _floats(text):
    return [float(item) for item in text.split(",") if item]


def _words(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--backend", default=",".join(BACKENDS), help="comma list; one process each")
    add("--benchmarks", default="simclr,cpc", help="comma list of simclr, cpc")
    add("--dtype-policy", default="float32", choices=("float32", "mixed_bfloat16"))
    add("--rounds", type=int, default=3, help="interleaved timing rounds (0: checks only)")
    add("--steps", type=int, default=3, help="timed steps per variant and round")
    add("--warmup", type=int, default=1, help="untimed steps after the 2 checked ones (CPC: >= 1)")
    add("--statistic", default="best", choices=("best", "median"), help="of the rounds")
    add("--keras-jit", default="auto", help="keras_cpc variants: comma list of auto,true,false")
    add("--width", default="1.0,0.25", help="SimCLR ResNet-18 widths, comma list")
    add("--batch-size", type=int, default=128, help="SimCLR pairs per step")
    add("--image-size", type=int, default=32)
    add("--head-layers", type=int, default=2, help="projection head layers (2: the presets')")
    add("--cpc-arch", default="preset", choices=("preset", "paper"))
    add("--cpc-batch-size", type=int, default=8)
    add("--cpc-samples", type=int, default=20480, help="samples per clip")
    add("--prediction-steps", type=int, default=12)
    add("--num-negatives", type=int, default=128)
    add("--cpc-negatives", default="dense", help="peer scoring: comma list of dense, gather")
    add("--inference", action="store_true", help="also time predict() of the shipped presets")
    add("--inference-batch-sizes", default="32,128,256")
    add("--inference-items", type=int, default=512, help="images or clips per predict call")
    add("--clip-seconds", type=float, default=1.0, help="audio clip length for inference")
    add(
        "--eager",
        action="store_true",
        help="no tf.function / jax.jit anywhere (keras_cpc run_eagerly): quick checks of the "
        "math, not a speed measurement",
    )
    add(
        "--malloc",
        default="keep",
        choices=("keep", "default"),
        help="keep: glibc keeps freed memory (keras_cpc.training.keep_freed_memory, for every "
        "side alike; without it a step's page faults vary with the allocation order, 600 to "
        "31,000 per torch SimCLR step); default: glibc's own thresholds",
    )
    add("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _check(steps, call, reference, policy):
    """Loss of every step on its first two calls, against ``reference``'s."""
    losses = {name: [call(step), call(step)] for name, step in steps.items()}
    tolerance = 2e-2 if policy == "mixed_bfloat16" else 1e-4
    result = {"tolerance": tolerance, "losses": losses, "relative_diff": {}, "ok": True}
    for name, values in losses.items():
        diffs = [abs(v - r) / max(abs(r), 1e-12) for v, r in zip(values, losses[reference])]
        result["relative_diff"][name] = diffs
        result["ok"] = result["ok"] and diffs[0] <= tolerance and diffs[1] <= 10 * tolerance
    return result


def _timed(steps, call, args, items, min_warmup=0):
    if args.rounds < 1:
        return {name: [] for name in steps}
    for _ in range(max(args.warmup, min_warmup)):
        for step in steps.values():
            call(step)
    common = sibling("peers_common")
    return common.interleaved_rates(
        {name: (lambda step=step: call(step)) for name, step in steps.items()},
        items,
        args.steps,
        args.rounds,
    )


def run_backend(args):
    """All benchmarks of this process's backend; returns the JSON-able results."""
    import keras

    from keras_cpc.training import keep_freed_memory

    # Before the first model: the same heap settings for keras_cpc and the peers.
    kept = args.malloc == "keep" and keep_freed_memory()
    sibling("peers_common")
    side = sibling("peers_keras")
    peer = sibling(PEER_MODULES[keras.backend.backend()])
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(args.dtype_policy)
    info = {"keras": keras.__version__, **peer.info(), "malloc": "keep" if kept else "default"}
    out = {"backend": keras.backend.backend(), "info": info}
    jits = ["eager"] if args.eager else _words(args.keras_jit)
    try:
        if "simclr" in _words(args.benchmarks):
            out["simclr"] = [
                _simclr(args, side, peer, width, jits) for width in _floats(args.width)
            ]
        if "cpc" in _words(args.benchmarks):
            out["cpc"] = [_cpc(args, side, peer, jits)]
        if args.inference:
            out["inference"] = side.inference_rates(
                [int(x) for x in _words(args.inference_batch_sizes)],
                args.inference_items,
                args.rounds,
                args.clip_seconds,
                args.dtype_policy,
            )
    finally:
        keras.config.set_dtype_policy(previous)
    return out


def _keras_variants(build, side, jits):
    models = {f"keras_cpc (jit {jit})": build(jit) for jit in jits}
    first = next(iter(models.values()))
    for model in models.values():
        if model is not first:
            side.copy_weights(first, model)
    return models, side.export_weights(first)


def _simclr(args, side, peer, width, jits):
    views = side.simclr_views(args.batch_size, args.image_size)
    models, weights = _keras_variants(
        lambda jit: side.simclr_model(width, jit, args.head_layers, args.image_size), side, jits
    )
    steps = {name: side.simclr_step(model, views) for name, model in models.items()}
    steps.update(
        peer.simclr_steps(
            weights, width, args.head_layers, views, args.dtype_policy, compiled=not args.eager
        )
    )
    check = _check(steps, lambda step: step(), next(iter(models)), args.dtype_policy)
    rates = _timed(steps, lambda step: step(), args, args.batch_size)
    return {"width": width, "unit": "pairs/s", "check": check, "rates": rates}


def _cpc(args, side, peer, jits):
    common = sibling("peers_common")
    config = common.CPC_ARCHITECTURES[args.cpc_arch]
    waveform = side.cpc_waveform(args.cpc_batch_size, args.cpc_samples)
    frames = common.cpc_frames(args.cpc_samples, config)
    models, weights = _keras_variants(
        lambda jit: side.cpc_model(args.cpc_arch, args.prediction_steps, args.num_negatives, jit),
        side,
        jits,
    )
    steps = {name: side.cpc_step(model, waveform) for name, model in models.items()}
    steps.update(
        peer.cpc_steps(
            weights,
            config,
            args.prediction_steps,
            args.num_negatives,
            waveform,
            args.dtype_policy,
            _words(args.cpc_negatives),
            compiled=not args.eager,
        )
    )
    indices = side.cpc_check_indices(args.cpc_batch_size, frames, args.num_negatives)
    check = _check(steps, lambda step: step(indices), next(iter(models)), args.dtype_policy)
    # At least one warm-up step: the checks fed keras_cpc explicit negatives, and its step
    # is traced again for an input without them.
    rates = _timed(steps, lambda step: step(), args, args.cpc_batch_size, min_warmup=1)
    return {
        "arch": args.cpc_arch,
        "frames": frames,
        "unit": "clips/s",
        "check": check,
        "rates": rates,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.child:
        print(MARK + json.dumps(run_backend(args)), flush=True)
        return 0
    report = sibling("peers_report")
    machine = report.machine_info()
    results, failed = [], []
    for backend in _words(args.backend):
        if backend not in BACKENDS:
            raise SystemExit(f"--backend takes {', '.join(BACKENDS)}; received {backend!r}")
        env = {**os.environ, "KERAS_BACKEND": backend}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        print(f"[{backend}] running ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, __file__, *argv, "--child"], env=env, stdout=subprocess.PIPE, text=True
        )
        found = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
        if done.returncode or not found:
            print(f"[{backend}] failed (exit {done.returncode})", file=sys.stderr)
            failed.append(backend)
            continue
        results.append(json.loads(found[-1][len(MARK) :]))
    machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(report.header(argv, machine, results, args))
    print(report.format_tables(results, args.statistic))
    if failed:
        print(f"\nfailed: {', '.join(failed)} (see the errors above)")
    return 0 if results and not failed and all(_checks_ok(r) for r in results) else 1


def _checks_ok(result):
    runs = result.get("simclr", []) + result.get("cpc", [])
    return all(run["check"]["ok"] for run in runs)


if __name__ == "__main__":
    sys.exit(main())
