"""Text output of benchmarks/peers.py: machine description, ratio tables, loss checks.

Example:
    >>> print(format_tables(results, "best"))  # results: one dict per backend process
"""

import json
import os
import platform
import shlex
from pathlib import Path

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "XLA_FLAGS",
    "KMP_AFFINITY",
    "KMP_BLOCKTIME",
)


def machine_info():
    """CPU model, core counts, load and thread settings of this machine."""
    model = ""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        model = platform.processor()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "bf16_instructions": sorted(flags & {"avx512_bf16", "amx_bf16"}),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "threads_env": {name: os.environ.get(name, "(unset)") for name in THREAD_VARIABLES},
    }


def _stat(values, statistic):
    values = sorted(values)
    return values[-1] if statistic == "best" else values[len(values) // 2]


def format_tables(results, statistic):
    """Markdown tables (ratio keras_cpc / plain) and the loss checks, as text."""
    lines = []
    for kind, label in (("simclr", "width"), ("cpc", "arch")):
        rows = [(r["backend"], run) for r in results for run in r.get(kind, [])]
        if not rows:
            continue
        unit = rows[0][1]["unit"]
        lines += [
            "",
            f"{kind.upper()} step, {unit} ({statistic} of the rounds); ratio = keras_cpc / plain",
            "",
            f"| backend | {label} | keras_cpc | plain framework | ratio | vs fastest plain |",
            "|---|---|---|---|---|---|",
        ]
        for backend, run in rows:
            if not all(run["rates"].values()):
                lines.append(f"| {backend} | {run[label]} | not timed (--rounds 0) | | | |")
                continue
            rates = {name: _stat(values, statistic) for name, values in run["rates"].items()}
            plain = {n: v for n, v in rates.items() if not n.startswith("keras_cpc")}
            listed = ", ".join(f"{v:.1f} ({n})" for n, v in plain.items())
            for name, value in rates.items():
                if name.startswith("keras_cpc"):
                    ratios = " / ".join(f"{value / v:.2f}" for v in plain.values())
                    setting = name[len("keras_cpc ") :]
                    best = value / max(plain.values()) if plain else float("nan")
                    lines.append(
                        f"| {backend} | {run[label]} | {value:.1f} {setting} | {listed} | "
                        f"{ratios} | {best:.2f} |"
                    )
        lines += ["", "Loss checks (same weights: step 1; after one SGD update: step 2):"]
        for backend, run in rows:
            check = run["check"]
            diffs = ", ".join(
                f"{name} {d[0]:.1e}/{d[1]:.1e}" for name, d in check["relative_diff"].items()
            )
            reference = next(iter(check["losses"].values()))
            lines.append(
                f"- {backend} {label}={run[label]}: {'OK' if check['ok'] else 'MISMATCH'}, "
                f"keras_cpc loss {reference[0]:.5f} then {reference[1]:.5f}; relative "
                f"differences step1/step2: {diffs} (tolerance {check['tolerance']:g}, x10 "
                "for step 2)"
            )
    inference = [(r["backend"], row) for r in results for row in r.get("inference", [])]
    if inference:
        lines += ["", f"Inference, predict() features/s ({statistic} of the rounds)", ""]
        lines += ["| backend | preset | batch size | features/s |", "|---|---|---|---|"]
        for backend, row in inference:
            rate = _stat(row["rates"], statistic)
            lines.append(f"| {backend} | {row['preset']} | {row['batch_size']} | {rate:.1f} |")
    return "\n".join(lines)


def header(argv, machine, results, args):
    """The command line, the machine, the frameworks and what every step computes."""
    lines = [
        "command: python benchmarks/peers.py " + shlex.join(argv),
        f"cpu: {machine['cpu']}; {machine['logical_cpus']} logical CPUs, "
        f"{machine['usable_cpus']} usable; bf16 instructions: "
        f"{', '.join(machine['bf16_instructions']) or 'none'}; python {machine['python']}",
        f"load average before / after: {machine['load_average']} / "
        f"{machine['load_average_after']} (a loaded machine measures its neighbours)",
        "thread settings: " + ", ".join(f"{k}={v}" for k, v in machine["threads_env"].items()),
    ]
    lines += [f"{r['backend']}: {json.dumps(r['info'])}" for r in results]
    lines += [
        f"every step: dtype policy {args.dtype_policy}, SGD lr 0.05 momentum 0.9 (the same "
        "update on every side), the same data every step, weights copied from keras_cpc's",
        f"timing: {args.rounds} interleaved rounds x {args.steps} steps per variant after "
        f"2 checked + {args.warmup} warm-up steps; {args.statistic} round shown",
    ]
    if "simclr" in args.benchmarks:
        lines.append(
            f"SimCLR: ResNet-18 CIFAR stem, {args.batch_size} pairs of {args.image_size}x"
            f"{args.image_size} views given (no augmentation), projection head of "
            f"{args.head_layers} layers, NT-Xent tau 0.5"
        )
    if "cpc" in args.benchmarks:
        lines.append(
            f"CPC: {args.cpc_arch} network, {args.cpc_batch_size} clips x {args.cpc_samples} "
            f"samples, K={args.prediction_steps}, {args.num_negatives} per-anchor negatives "
            "drawn every step (keras_cpc: its sampler; peers: the framework's RNG), peer "
            f"scoring {args.cpc_negatives} (dense: every frame scored, then the negatives "
            "picked; gather: the negatives' codes gathered)"
        )
    if args.inference:
        lines.append(
            f"inference: predict() of {args.inference_items} random uint8 32x32 images or "
            f"{args.clip_seconds} s clips per call, presets loaded with {args.dtype_policy}"
        )
    if args.eager:
        lines.append("--eager: nothing traced or compiled; the figures are no speed measure")
    return "\n".join(lines)
