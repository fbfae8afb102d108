"""Run records never publish a machine path; JSON is written atomically."""

import json
import os

import numpy as np
import pytest

from keras_cpc.training import records


def test_paths_are_relative_to_the_data_root_or_the_working_directory(tmp_path):
    root, cwd = tmp_path / "datasets", tmp_path / "repo"
    argv = [
        "--data", str(root / "cifar10" / "train"),
        f"--eval-data={root}/fsdd/recordings",
        "--checkpoint-dir", str(cwd / "runs" / "simclr"),
        "--save-preset", "presets/simclr_tiny",
        "--probe-dir", "/home/someone/scratch/probe_out",
        "--tmp", "/tmp/pytest-of-root/xyz/run",
        "--source", "tfds:cifar10", "--heldout-indices", "5-9", "--learning-rate", "2e-3",
    ]  # fmt: skip
    assert records.relative_to_data_root(argv, root, cwd=cwd) == [
        "--data", "$DATA/cifar10/train",
        "--eval-data=$DATA/fsdd/recordings",
        "--checkpoint-dir", "runs/simclr",
        "--save-preset", "presets/simclr_tiny",
        "--probe-dir", "<local>/probe_out",
        "--tmp", "<local>/run",
        "--source", "tfds:cifar10", "--heldout-indices", "5-9", "--learning-rate", "2e-3",
    ]  # fmt: skip


def test_data_root_comes_from_the_environment_then_home_data(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_CPC_DATA", str(tmp_path))
    assert records.portable_path(tmp_path / "fsdd", cwd="/") == "$DATA/fsdd"
    monkeypatch.delenv("KERAS_CPC_DATA")
    home_data = os.path.expanduser("~/data/cifar10/train")
    assert records.portable_path(home_data, cwd="/") == "$DATA/cifar10/train"
    assert records.portable_path("~/data/cifar10/train", cwd="/") == "$DATA/cifar10/train"


def test_exact_command_can_be_pasted_back(tmp_path):
    command = records.exact_command(
        tmp_path / "examples" / "pretrain_cpc.py",
        ["--data", str(tmp_path / "d" / "fsdd"), "--preset-name", "my preset"],
        data_root=tmp_path / "d",
        cwd=tmp_path,
    )
    # $DATA unquoted (the shell expands it); a value with a space quoted.
    assert command == "python examples/pretrain_cpc.py --data $DATA/fsdd --preset-name 'my preset'"
    assert str(tmp_path) not in command


def test_write_json_is_atomic_and_writes_numpy_values(tmp_path):
    path = tmp_path / "out" / "summary.json"
    records.write_json(path, {"steps": np.int64(8), "loss": np.float32(0.5), "v": np.arange(2)})
    assert json.loads(path.read_text()) == {"steps": 8, "loss": 0.5, "v": [0, 1]}
    with pytest.raises(TypeError, match="Expected JSON data.*received object"):
        records.write_json(path, {"bad": object()})
    # The failed write left the previous file whole, and no temporary file behind.
    assert json.loads(path.read_text())["steps"] == 8
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.json"]


def test_hardware_source_and_timer():
    info = records.hardware_info()
    assert {"cpu", "cpu_cores_usable", "backend", "keras", "accelerators"} <= set(info)
    assert isinstance(info["accelerators"], list)
    version = records.source_version()
    assert version is None or len(version) == 40
    with records.Timer() as timer:
        pass
    assert 0 <= timer.seconds < 1
