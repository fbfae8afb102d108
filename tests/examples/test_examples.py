"""The example scripts on tiny generated data: kill-and-resume of a pretraining run, probe smoke.

Everything is generated in tmp_path (no ~/data, no network). The scripts run in-process
(``main(argv)``) so the tests stay within the time budget.
"""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def needs(module_name):
    try:
        __import__(module_name)
    except ImportError:
        pytest.skip(f"{module_name} is not on this branch yet")


def write_fsdd(root, digits=(0, 1), speakers=("anna", "bob"), indices=range(5, 13), rate=8000):
    """FSDD-layout clips: each digit a tone pattern, each speaker a pitch; lengths vary."""
    import soundfile

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for d in digits:
        for s, speaker in enumerate(speakers):
            for i in indices:
                n = int(rate * rng.uniform(0.15, 0.3))
                t = np.arange(n) / rate
                pitch = 150.0 * (1 + s)
                sweep = 1 + (d + 1) * t * 3
                clip = np.sin(2 * np.pi * pitch * sweep * t) + 0.05 * rng.normal(size=n)
                soundfile.write(root / f"{d}_{speaker}_{i}.wav", clip.astype("float32"), rate)
    return root


def write_image_folder(root, classes=3, per_class=12, size=16):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (size, size, 3))
            image[..., c % 3] += 150 + 40 * (c // 3)
            Image.fromarray(image.clip(0, 255).astype("uint8")).save(folder / f"{i}.png")
    return root


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


CPC_TINY = [
    "--window", "800", "--kernel-sizes", "10,8,4,4", "--strides", "5,4,2,2",
    "--encoder-dim", "8", "--context-dim", "8", "--prediction-steps", "2",
    "--num-negatives", "4", "--batch-size", "4", "--learning-rate", "0.01", "--verbose", "0",
    "--run-eagerly",
]  # fmt: skip


def test_pretraining_killed_midway_resumes_to_the_same_number_of_steps(tmp_path, monkeypatch):
    needs("keras_cpc.models.cpc.cpc_pretrainer")
    import keras

    pretrain = load_example("pretrain_cpc")
    common = sys.modules["common"]
    data = write_fsdd(tmp_path / "recordings")
    checkpoints = tmp_path / "run"
    argv = ["--data", str(data), "--epochs", "4", "--steps-per-epoch", "2",
            "--checkpoint-dir", str(checkpoints), *CPC_TINY]  # fmt: skip

    class Kill(keras.callbacks.Callback):
        # A crash in the middle of the third epoch (after global step 5).
        def on_train_batch_end(self, batch, logs=None):
            if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == 5:
                raise RuntimeError("killed")

    original = common.training_callbacks
    monkeypatch.setattr(common, "training_callbacks", lambda *a, **k: [*original(*a, **k), Kill()])
    with pytest.raises(RuntimeError, match="killed"):
        pretrain.main(argv)
    killed_rows = read_rows(checkpoints / "steps.csv")
    assert [int(r["step"]) for r in killed_rows] == [1, 2, 3, 4, 5]
    assert (checkpoints / "backup" / "latest.weights.h5").exists()

    monkeypatch.setattr(common, "training_callbacks", original)
    preset = tmp_path / "cpc_tiny"
    summary = pretrain.main([*argv, "--save-preset", str(preset)])
    # Resumed from the end of epoch 2 (step 4): redoes epoch 3 and 4, 8 steps in all.
    assert summary["steps"] == 8
    rows = read_rows(checkpoints / "steps.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    assert [int(r["epoch"]) for r in rows] == [0, 0, 1, 1, 2, 2, 3, 3]
    # The curve continues the first run: its first four points are kept unchanged.
    assert [r["loss"] for r in rows[:4]] == [r["loss"] for r in killed_rows[:4]]
    losses = [float(r["loss"]) for r in rows]
    assert all(np.isfinite(losses))
    epochs = read_rows(checkpoints / "epochs.csv")
    assert [int(r["epoch"]) for r in epochs] == [0, 1, 2, 3]

    # The preset carries what its model card promises.
    from keras_cpc.models import CPCBackbone

    metadata = json.loads((preset / "metadata.json").read_text())
    for key in ("training_command", "training_data", "seed", "hardware", "training"):
        assert metadata.get(key) is not None, key
    assert metadata["training"]["steps"] == 8
    assert metadata["training_command"].startswith("python examples/pretrain_cpc.py --data")
    card = (preset / "README.md").read_text()
    assert "Exact command" in card and "Hardware" in card and "Seed: 0" in card
    backbone = CPCBackbone.from_preset(preset)
    assert backbone.frames_per_second == 100.0  # 8 kHz / 80 samples: 10 ms frames


def test_linear_probe_on_an_image_folder(tmp_path):
    from keras_cpc.models import ResNetBackbone

    probe = load_example("linear_probe")
    preset = tmp_path / "resnet_tiny"
    ResNetBackbone(
        depth=18, width_multiplier=0.0625, stem="cifar", image_shape=(16, 16, 3)
    ).save_to_preset(preset)
    images = write_image_folder(tmp_path / "images")
    out = tmp_path / "probe"
    results = probe.main([str(preset), "--data", str(images), "--holdout-fraction", "0.25",
                          "--c-values", "0.1,1", "--output-dir", str(out), "--quiet"])  # fmt: skip
    summary = results["summary"]
    assert summary["columns"] == ["preset", "random init", "raw pixels"]
    (row,) = summary["accuracy"].values()
    assert all(0.0 <= row[c] <= 1.0 for c in summary["columns"])
    assert row["raw pixels"] == 1.0  # the classes differ by colour: pixels separate them
    assert json.loads((out / "results.json").read_text())["summary"] == summary
    assert (out / "probe.png").stat().st_size > 1000


def test_main_job_data_ships_with_scikit_learn():
    # The README's main job reads load_digits: real images, no files, no network.
    common = load_example("common")
    images, labels, classes, _ = common.load_digits_images(32)
    assert images.shape == (1797, 32, 32, 3) and images.dtype == np.uint8
    assert images.max() == 255 and len(classes) == 10 and set(labels) == set(range(10))
    train, test = common.stratified_holdout(labels, 0.3, seed=0)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 1797
    assert abs(len(test) - 0.3 * 1797) < 10


def test_linear_probe_on_fsdd_layout_runs_all_three_protocols(tmp_path):
    from keras_cpc.models import CPCBackbone

    probe = load_example("linear_probe")
    preset = tmp_path / "cpc_tiny"
    CPCBackbone(
        kernel_sizes=(10, 8, 4, 4), strides=(5, 4, 2, 2), encoder_dim=8, context_dim=8,
        sample_rate=8000,
    ).save_to_preset(preset)  # fmt: skip
    data = write_fsdd(tmp_path / "recordings")
    out = tmp_path / "probe"
    results = probe.main([str(preset), "--data", str(data), "--c-values", "1",
                          "--output-dir", str(out), "--quiet"])  # fmt: skip
    summary = results["summary"]
    assert summary["columns"] == ["preset", "random init", "MFCC mean+std"]
    assert set(summary["accuracy"]) == {
        "digit ID", "speaker ID", "digit ID, leave one speaker out"
    }  # fmt: skip
    assert "index 5-9 held out" in summary["split"]
    folds = results["details"]["digit ID, leave one speaker out"]["preset"]["fold_accuracies"]
    assert len(folds) == 2
    assert summary["accuracy"]["speaker ID"]["MFCC mean+std"] >= 0.8  # pitch differs; chance 0.5
    assert (out / "probe.png").exists()


def test_fsdd_loader_skips_bad_files_loudly(tmp_path, capsys):
    common = load_example("common")
    data = write_fsdd(tmp_path / "recordings", indices=range(5, 7))
    (data / "notes.wav").write_bytes(b"")
    (data / "3_anna_9.wav").write_bytes(b"not a wav")
    clips, info = common.load_fsdd_folder(data)
    assert len(clips) == 8 and set(info["speaker"]) == {"anna", "bob"}
    err = capsys.readouterr().err
    assert "notes.wav" in err and "3_anna_9.wav" in err
