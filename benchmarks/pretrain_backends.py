"""Which backend runs the example pretraining steps fastest here? (CPU, brief measurement)

Runs examples/pretrain_simclr.py (or pretrain_cpc.py) for 1 + N steps per backend, each in
its own process, and reports the mean time of the steps after the first epoch (compilation
excluded), read from the per-step log. Usage:

    python benchmarks/pretrain_backends.py simclr --batch-size 128 --steps 4
    python benchmarks/pretrain_backends.py cpc --batch-size 32 --steps 4
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=("simclr", "cpc"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--data")
    parser.add_argument("extra", nargs="*", help="extra arguments for the script")
    args = parser.parse_args()
    script = ROOT / "examples" / f"pretrain_{args.which}.py"
    data = args.data or (
        "~/data/cifar10/train" if args.which == "simclr" else "~/data/fsdd/recordings"
    )
    results = {}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            command = [
                sys.executable,
                str(script),
                "--data",
                os.path.expanduser(data),
                "--limit",
                str(args.batch_size * (args.steps + 1)),
                "--batch-size",
                str(args.batch_size),
                "--epochs",
                "2",
                "--steps-per-epoch",
                str(args.steps),
                "--checkpoint-dir",
                scratch,
                "--verbose",
                "0",
                *args.extra,
            ]
            env = {**os.environ, "KERAS_BACKEND": backend}  # keras_cpc is installed: no paths
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            total = time.perf_counter() - start
            if done.returncode:
                print(f"{backend}: failed\n{done.stderr[-2000:]}")
                continue
            # fit_resumable's per-epoch log: one row per epoch with its wall seconds.
            epochs = Path(scratch) / "epochs.csv"
            rows = list(csv.DictReader(epochs.open())) if epochs.exists() else []
            times = [float(row["seconds"]) for row in rows]
            second = times[1] / args.steps if len(times) > 1 else float("nan")
            results[backend] = second
            print(
                f"{backend:11s} {second:7.2f} s/step (batch {args.batch_size}, after "
                f"compilation); whole process {total:.0f} s",
                flush=True,
            )
    if results:
        print("fastest:", min(results, key=results.get))


if __name__ == "__main__":
    main()
