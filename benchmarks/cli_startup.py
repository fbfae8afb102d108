"""How long the quick ``keras-cpc`` commands take, and proof that they load no backend.

``keras-cpc presets``, ``keras-cpc info NAME`` and the help texts read JSON and the preset
registry only: they must not import keras, TensorFlow, JAX or PyTorch, and should answer in
under a second. Each command runs as a subprocess (the installed console script when it sits
next to this interpreter, else ``python -m keras_cpc.cli``); the best of ``--repeats`` wall
times is printed. One more run under ``python -X importtime`` lists every module the command
imported; any backend module among them makes this script exit 1, and so does a best time
over ``--target`` seconds. Example::

    python benchmarks/cli_startup.py --repeats 5
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import keras_cpc

BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per command")
    parser.add_argument("--preset", help="preset for `info` (default: the first listed)")
    parser.add_argument(
        "--target", type=float, default=1.0, help="seconds a command may take (0: no limit)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1; received {args.repeats}.")
    return args


def command_prefix():
    """How to start the CLI: the console script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "keras-cpc"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "keras_cpc.cli"]


def best_seconds(argv, repeats):
    """Best wall time of ``repeats`` runs of the CLI with ``argv``; a failing run raises."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([*command_prefix(), *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def backend_imports(argv):
    """Top-level backend modules imported by one run (from ``python -X importtime``)."""
    prefix = command_prefix()
    command = [prefix[0], "-X", "importtime", *prefix[1:], *argv]
    # The child's own environment, minus a PYTHONWARNINGS that would add lines to stderr.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    imported = set()
    for line in result.stderr.splitlines():
        # "import time: self [us] | cumulative | <indent>module.name"
        if line.startswith("import time:") and "|" in line:
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return sorted(imported & set(BACKEND_MODULES))


def main(argv=None):
    args = parse_args(argv)
    preset = args.preset or next(iter(keras_cpc.list_presets()), None)
    if preset is None:
        print("No presets found: `info` needs one (pass --preset or set KERAS_CPC_PRESETS_PATH).")
        return 1
    commands = [["presets"], ["info", preset], ["--help"], ["extract", "--help"]]
    failures = []
    print(f"{'command':<32}{'best of ' + str(args.repeats):>12}  backend modules imported")
    for argv_ in commands:
        seconds = best_seconds(argv_, args.repeats)
        heavy = backend_imports(argv_)
        label = "keras-cpc " + " ".join(argv_)
        print(f"{label:<32}{seconds:>10.3f} s  {', '.join(heavy) or 'none'}")
        if heavy:
            failures.append(f"{label} imported {', '.join(heavy)}; expected no backend")
        if args.target and seconds > args.target:
            failures.append(f"{label} took {seconds:.3f} s; expected under {args.target} s")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
