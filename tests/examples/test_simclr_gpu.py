"""The one-session GPU script at toy size on CPU: speed check, plan, kill, resume, preset.

`scripts/train_simclr_gpu.py` runs in a subprocess that is killed mid-run, then resumes
in-process (cheaper than a second process on every backend), with the recipe's flags (SGD,
head without batch norm, official crops, images on the device, bfloat16); everything is
generated in tmp_path. That device-resident batches equal the host's is
tests/data/test_resident.py's job.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras

from keras_cpc.models import ResNetBackbone
from tests.examples.test_examples import EAGER, read_record, write_image_folder
from tests.helpers import load_module

ROOT = Path(__file__).resolve().parents[2]
# Flags for examples/pretrain_simclr.py, after the script's recipe (they override it).
TOY = [
    "--image-size", "16", "--width", "0.0625", "--batch-size", "12", "--holdout-fraction", "0.25",
    "--head-hidden", "16", "--projection-dim", "8", "--dtype-policy", "mixed_bfloat16",
    "--crop-sampling", "official", "--crop-scale", "0.2", "1.0", "--grayscale-probability", "0.1",
    *EAGER,
]  # fmt: skip


SCRIPT = ROOT / "scripts" / "train_simclr_gpu.py"


def gpu_script_argv(output, images, *extra):
    return [
        "--output-dir", str(output), "--time-budget", "600", "--max-epochs", "4",
        "--checkpoint-every", "1", "--speed-check-steps", "2", "--reserve", "0", *extra, "--",
        "--data", str(images), *TOY,
    ]  # fmt: skip


def load_gpu_script():
    return load_module(SCRIPT, "train_simclr_gpu")


def test_gpu_script_checks_speed_plans_and_resumes_after_a_kill(tmp_path, capsys, monkeypatch):
    images = write_image_folder(tmp_path / "images", classes=4, per_class=12)  # 36 trained
    output = tmp_path / "session"
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"  # XLA's quick compile mode on JAX
    first = subprocess.Popen(
        [sys.executable, str(SCRIPT), *gpu_script_argv(output, images)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    checkpoints = output / "run" / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("epoch-*")) and first.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    log = first.communicate()[0]
    assert "Speed check:" in log and "s/epoch" in log, log
    plan = json.loads((output / "plan.json").read_text())
    assert plan["epochs"] == 4 and plan["steps_per_epoch"] == 3
    assert not (output / "preset").exists()

    # The same command again (in-process here), with a budget the plan overrides.
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "cache"))  # not left set
    load_gpu_script().main(gpu_script_argv(output, images, "--time-budget", "1"))
    log = capsys.readouterr().out
    assert "Resuming the plan" in log and "Speed check" not in log
    done = int(log.split("Resuming from ")[1].split(": ")[1].split(" of ")[0])
    assert 1 <= done < 4, log  # killed mid-run, resumed from its last checkpoint
    preset = output / "preset"
    metadata, card = read_record(preset, tmp_path)
    assert metadata["training"]["epochs"] == 4 and metadata["training"]["steps"] == 12
    hyper = metadata["hyperparameters"]
    assert hyper["dtype_policy"] == "mixed_bfloat16" and hyper["data_on_device"]
    assert hyper["optimizer"] == "sgd" and hyper["weight_decay"] == 5e-4
    assert hyper["crop_sampling"] == "official" and hyper["crop_scale"] == [0.2, 1.0]
    assert metadata["launcher"]["plan"]["projected_epochs"] >= 4
    assert metadata["training_command"].startswith("python examples/pretrain_simclr.py --width")
    assert "crops official sampler, area 0.2-1, projection head 2 layers 16 -> 8 (no batch" in card
    assert "grayscale p 0.1" in card and "dtype policy mixed_bfloat16" in card
    assert "Wall time:" in card and "Seed: 0" in card
    # The images never reach the preset: the files of an untrained backbone's preset.
    fresh = ResNetBackbone(18, 0.0625, stem="cifar", image_shape=(16, 16, 3))
    fresh.save_to_preset(tmp_path / "fresh")
    for path in preset.iterdir():
        if path.suffix == ".h5":
            assert path.stat().st_size == (tmp_path / "fresh" / path.name).stat().st_size
