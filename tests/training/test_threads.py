"""--threads / $KERAS_CPC_THREADS: `set_threads` caps the backend's compute threads."""

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_cpc.training.threads import THREADS_ENV, resolve_threads

# Run in a fresh interpreter, as the CLI and the examples do: keras imported first, then
# set_threads, then a workload. The CPU time each OS thread gained during the workload says how
# many threads computed (a thread with over 10% of it counts). Without set_threads this probe
# counted 2 busy threads on torch and TensorFlow and 4 on JAX, on a 2-core machine.
PROBE = """
import json, os, sys, time
import keras
from keras_cpc.training.threads import set_threads

def ticks():
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = int(fields[11]) + int(fields[12])
    return out

applied = set_threads(None)  # from $KERAS_CPC_THREADS
a = keras.random.normal((1024, 1024), seed=0)
keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
before, started = ticks(), time.perf_counter()
while time.perf_counter() - started < 0.6:
    b = a
    for _ in range(4):
        b = keras.ops.matmul(b, a) * 1e-3
    keras.ops.convert_to_numpy(b)
gained = [t - before.get(tid, 0) for tid, t in ticks().items()]
busy = [t for t in gained if t > 0.1 * max(sum(gained), 1)]
report = {"applied": applied, "busy": len(busy), "PJRT_NPROC": os.environ.get("PJRT_NPROC")}
backend = keras.backend.backend()
if backend == "torch":
    import torch
    report["runtime"] = torch.get_num_threads()
elif backend == "tensorflow":
    import tensorflow as tf
    report["runtime"] = tf.config.threading.get_intra_op_parallelism_threads()
else:
    report["runtime"] = int(os.environ.get("PJRT_NPROC", 0))  # read by XLA's CPU client
print(json.dumps(report))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_keras_cpc_threads_caps_the_backend_at_one_busy_thread():
    environ = dict(os.environ, **{THREADS_ENV: "1"})
    environ.pop("OMP_NUM_THREADS", None)  # the cap must come from set_threads, not from here
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=environ
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["applied"] == 1 and report["runtime"] == 1, report
    assert report["PJRT_NPROC"] == "1"
    # One thread did the work.
    assert report["busy"] == 1, report


def test_resolve_threads_reads_the_flag_then_the_environment():
    assert resolve_threads(None, {}) is None
    assert resolve_threads(None, {THREADS_ENV: " 2 "}) == 2
    assert resolve_threads(3, {THREADS_ENV: "2"}) == 3  # the flag wins
    with pytest.raises(ValueError, match=r"--threads to be a whole number >= 1; received 0"):
        resolve_threads(0, {})
    with pytest.raises(ValueError, match=r"\$KERAS_CPC_THREADS to be .* received 'two'"):
        resolve_threads(None, {THREADS_ENV: "two"})


def test_run_parser_takes_threads_and_leaves_it_out_of_the_record():
    from keras_cpc import training

    parser = training.run_parser("x", epochs=1, batch_size=8, optimizer="adam")
    args = parser.parse_args(["--threads", "2"])
    assert args.threads == 2 and "threads" in training.runs.UNRECORDED_FLAGS
    assert keras.config.dtype_policy().name == "float32"
