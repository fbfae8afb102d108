"""Data-parallel steps on each engine equal the single-device step on the same global batch.

Each engine runs in its own processes over 127.0.0.1 (`tests/distribute/replica_run.py`), only
under the matching KERAS_BACKEND (the single-device reference is computed in this process).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.distribute import replica_run

ROOT = Path(__file__).resolve().parents[2]
BACKEND = keras.backend.backend()
TIMEOUT = 240
pytestmark = pytest.mark.distributed


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(mode, out, **env):
    environment = dict(os.environ, KERAS_BACKEND=BACKEND, **env)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "tests.distribute.replica_run", mode, str(out)]
    return subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _results(processes, outs):
    for process in processes:
        try:
            log, _ = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            pytest.fail(f"a replica process ran over {TIMEOUT} s")
        assert process.returncode == 0, log.decode()[-4000:]
    return [json.loads(Path(out).read_text()) for out in outs]


def _assert_matches_single(result, reference, label):
    for name in ("simclr", "cpc"):
        expected, got = reference[name], result[name]
        assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5), (label, name)
        assert len(got["weights"]) == len(expected["weights"])
        for index, (a, b) in enumerate(zip(expected["weights"], got["weights"], strict=True)):
            a, b = np.asarray(a), np.asarray(b)
            # 1e-5 relative to the variable's scale (a single entry may be ~0).
            scale = max(float(np.abs(a).max()), 1e-3)
            assert np.abs(a - b).max() <= 1e-5 * scale, (label, name, index)


@pytest.fixture(scope="module")
def reference():
    keras.utils.set_random_seed(0)
    return {name: replica_run.single_step(name) for name in ("simclr", "cpc")}


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute runs under TensorFlow")
def test_tensorflow_mirrored_and_multi_worker_equal_one_device(tmp_path, reference):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    outs = [tmp_path / name for name in ("mirrored.json", "worker0.json", "worker1.json")]
    processes = [_launch("mirrored", outs[0])]
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        processes.append(_launch("worker", outs[1 + index], TF_CONFIG=json.dumps(config)))
    mirrored, *workers = _results(processes, outs)
    _assert_matches_single(mirrored, reference, "MirroredStrategy, 2 devices")
    for worker in workers:
        _assert_matches_single(worker, reference, "MultiWorkerMirroredStrategy, 2 workers")
    message = mirrored["indivisible"]
    assert message and "does not divide over 2 replicas" in message and "[3 2]" in message
    assert not mirrored["same_views"]  # each replica draws its own augmentation


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed runs under torch")
def test_torch_ranks_equal_one_device_and_stay_in_sync(tmp_path, reference):
    port = str(_free_port())
    outs = [tmp_path / f"rank{rank}.json" for rank in range(2)]
    processes = [
        _launch(
            "rank",
            out,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )  # fmt: skip
        for rank, out in enumerate(outs)
    ]
    ranks = _results(processes, outs)
    for rank in ranks:
        _assert_matches_single(rank, reference, "torch, 2 ranks")
    # After a 3-step fit with per-rank augmentation from different starting weights.
    for a, b in zip(ranks[0]["fit"], ranks[1]["fit"], strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not ranks[0]["same_views"]  # each rank draws its own augmentation


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs under JAX")
def test_jax_devices_and_processes_equal_one_device(tmp_path, reference):
    port = _free_port()
    outs = [tmp_path / name for name in ("devices.json", "process0.json", "process1.json")]
    processes = [_launch("devices", outs[0], XLA_FLAGS="--xla_force_host_platform_device_count=8")]
    for index in range(2):
        processes.append(
            _launch(
                "process",
                outs[1 + index],
                KERAS_DISTRIBUTION_NUM_PROCESSES="2",
                KERAS_DISTRIBUTION_PROCESS_ID=str(index),
                KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port},127.0.0.1:{port + 1}",
            )  # fmt: skip
        )
    devices, *multi = _results(processes, outs)
    _assert_matches_single(devices, reference, "DataParallel, 8 devices")
    for result in multi:
        assert result["processes"] == 2
        _assert_matches_single(result, reference, "DataParallel, 2 processes")
    message = devices["indivisible"]
    assert message and "global batch of 12" in message and "8 devices" in message
