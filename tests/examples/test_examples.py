"""The example scripts on tiny generated data: exact kill-and-resume, records, probe, fine-tune.

Everything is generated in tmp_path (no ~/data, no network). The scripts run in-process
(``main(argv)``) so the tests stay within the time budget.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc import training
from keras_cpc.evaluation.features import DEFAULT_BATCH_SIZES
from keras_cpc.models import CPCBackbone, ResNetBackbone
from tests.helpers import load_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Compiled steps where they compile quickly (JAX); eager elsewhere keeps each test seconds.
EAGER = ["--run-eagerly"] if keras.backend.backend() != "jax" else []


def load_example(name):
    return load_module(EXAMPLES / f"{name}.py", f"example_{name}")


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
                sweep = 1 + (d + 1) * t * 3
                clip = np.sin(2 * np.pi * 150.0 * (1 + s) * sweep * t) + 0.05 * rng.normal(size=n)
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


def tiny_resnet_preset(path):
    backbone = ResNetBackbone(18, 0.0625, stem="cifar", image_shape=(16, 16, 3))
    backbone.save_to_preset(path)
    return path


def read_record(folder, tmp_path):
    """A saved preset's metadata and card, after checking neither names a machine path."""
    for name in ("metadata.json", "README.md"):
        text = (folder / name).read_text()
        assert str(tmp_path) not in text and str(Path.home()) not in text, name
    return json.loads((folder / "metadata.json").read_text()), (folder / "README.md").read_text()


CPC_TINY = [
    "--window", "800", "--encoder-dim", "8", "--context-dim", "8", "--prediction-steps", "2",
    "--num-negatives", "4", "--batch-size", "4", "--learning-rate", "0.01", "--verbose", "0",
    "--epochs", "3", "--steps-per-epoch", "2", *EAGER,
]  # fmt: skip


class Kill(keras.callbacks.Callback):
    """Raises after ``at_step`` steps of this process, as a SIGKILL mid-epoch would stop it."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step, self.steps = at_step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at_step:
            raise KeyboardInterrupt("killed")


def test_cpc_run_killed_mid_epoch_and_rerun_ends_bit_identical(tmp_path, monkeypatch):
    pretrain = load_example("pretrain_cpc")
    argv = ["--data", str(write_fsdd(tmp_path / "recordings")), *CPC_TINY]
    once = pretrain.main([*argv, "--checkpoint-dir", str(tmp_path / "once"),
                          "--save-preset", str(tmp_path / "once_preset")])  # fmt: skip

    fit = training.fit_pretrainer
    with monkeypatch.context() as patch:
        # Step 3 is the middle of the second epoch: the newest checkpoint is after epoch 1.
        patch.setattr(training, "fit_pretrainer", lambda *a: fit(*a, callbacks=[Kill(3)]))
        with pytest.raises(KeyboardInterrupt):
            pretrain.main([*argv, "--checkpoint-dir", str(tmp_path / "killed")])
    preset = tmp_path / "cpc_tiny"
    rerun = pretrain.main([*argv, "--checkpoint-dir", str(tmp_path / "killed"),
                           "--save-preset", str(preset), "--preset-name", "cpc_demo"])  # fmt: skip

    assert rerun["initial_epoch"] == 1 and rerun["steps"] == once["steps"] == 6
    expected = CPCBackbone.from_preset(tmp_path / "once_preset").get_weights()
    for want, got in zip(expected, CPCBackbone.from_preset(preset).get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    steps = training.read_csv(tmp_path / "killed" / "steps.csv")
    assert [int(r["step"]) for r in steps] == list(range(1, 7))

    # The preset carries what its card promises, with no path of this machine.
    metadata, card = read_record(preset, tmp_path)
    assert metadata["training_command"].startswith("python examples/pretrain_cpc.py --data")
    assert metadata["training_data"]["source"] == "<local>/recordings"
    assert metadata["preprocessing"]["normalization"] == "peak"
    assert metadata["hyperparameters"]["optimizer"] == "adam"
    assert "verbose" not in metadata["hyperparameters"]
    # --preset-name titles the card the library renders (parameter count and versions too).
    assert card.startswith("# cpc_demo") and "Exact command" in card and "Seed: 0" in card
    assert "parameters)" in card and "Saved with keras_cpc" in card
    assert "Optimiser: adam, peak 0.01, weight decay 0" in card


def test_cpc_script_trains_under_mixed_bfloat16_and_records_the_policy(tmp_path):
    pretrain = load_example("pretrain_cpc")
    preset = tmp_path / "cpc_bf16"
    argv = ["--data", str(write_fsdd(tmp_path / "recordings", indices=(10, 11))),
            *CPC_TINY, "--epochs", "1", "--steps-per-epoch", "1",
            "--dtype-policy", "mixed_bfloat16", "--save-preset", str(preset)]  # fmt: skip
    summary = pretrain.main(argv)
    assert summary["steps"] == 1 and np.isfinite(summary["final_epoch_metrics"]["loss"])
    metadata, card = read_record(preset, tmp_path)
    assert metadata["hyperparameters"]["dtype_policy"] == "mixed_bfloat16"
    assert "threads" not in metadata["hyperparameters"]
    assert "dtype policy mixed_bfloat16" in card
    # Trained in bfloat16 with float32 weights: the preset loads as float32, every layer.
    backbone = CPCBackbone.from_preset(preset)
    assert {layer.compute_dtype for layer in backbone._flatten_layers()} == {"float32"}
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in backbone.weights)


def test_simclr_script_records_its_real_stem_optimizer_and_probe(tmp_path):
    pretrain = load_example("pretrain_simclr")
    images = write_image_folder(tmp_path / "images")
    preset = tmp_path / "simclr_tiny"
    summary = pretrain.main([
        "--data", str(images), "--image-size", "16", "--width", "0.0625", "--batch-size", "8",
        "--epochs", "1", "--steps-per-epoch", "1", "--holdout-fraction", "0.25",
        "--optimizer", "sgd", "--verbose", "0", "--save-preset", str(preset), "--probe", *EAGER,
    ])  # fmt: skip
    assert summary["steps"] == 1
    metadata, card = read_record(preset, tmp_path)
    assert "(CIFAR stem, width 0.0625)" in metadata["description"]
    hyper = metadata["hyperparameters"]
    assert hyper["optimizer"] == "sgd" and hyper["weight_decay"] == 5e-4
    assert hyper["projection_layers"] == 2 and hyper["save_preset"] == "<local>/simclr_tiny"
    assert metadata["preprocessing"]["image_size"] == [16, 16]
    assert metadata["probe_results"]["columns"] == ["preset", "random init", "raw pixels"]
    probe = "python examples/linear_probe.py '<local>/simclr_tiny' --data '<local>/images'"
    assert metadata["probe_command"].startswith(probe)
    assert metadata["probe_command"].endswith("--output-dir '<local>/simclr_tiny_probe'")
    assert "Optimiser: sgd" in card and "projection head 2 layers" in card
    assert "Linear probe (measured)" in card and card.startswith("# simclr_tiny")


def test_fine_tune_compares_preset_and_scratch_on_the_held_out_split(tmp_path):
    fine_tune = load_example("fine_tune")
    preset = tiny_resnet_preset(tmp_path / "resnet_tiny")
    output = tmp_path / "fine_tune.json"
    summary = fine_tune.main([str(preset), "--data", str(write_image_folder(tmp_path / "images")),
                              "--label-fraction", "0.5", "--holdout-fraction", "0.25",
                              "--batch-size", "4", "--epochs", "1", "--verbose", "0",
                              "--output", str(output), *EAGER])  # fmt: skip
    assert set(summary["results"]) == {"fine-tuned from preset", "from scratch"}
    assert summary["labelled_examples"] == 12 and summary["held_out_examples"] == 9
    assert all(0 <= r["val_accuracy"] <= 1 for r in summary["results"].values())
    assert json.loads(output.read_text()) == summary
    assert str(tmp_path) not in output.read_text()


def test_linear_probe_on_an_image_folder(tmp_path):
    probe = load_example("linear_probe")
    preset = tiny_resnet_preset(tmp_path / "resnet_tiny")
    images = write_image_folder(tmp_path / "images")
    out = tmp_path / "probe"
    results = probe.main([str(preset), "--data", str(images), "--holdout-fraction", "0.25",
                          "--c-values", "0.1,1", "--output-dir", str(out), "--quiet",
                          "--dtype-policy", "mixed_bfloat16"])  # fmt: skip
    summary = results["summary"]
    assert summary["columns"] == ["preset", "random init", "raw pixels"]
    # Features in bfloat16 (recorded with the backend's default batch size), probes as ever.
    assert summary["dtype_policy"] == "mixed_bfloat16"
    assert summary["batch_size"] == DEFAULT_BATCH_SIZES[keras.backend.backend()]["image"]
    (row,) = summary["accuracy"].values()
    assert all(0.0 <= row[c] <= 1.0 for c in summary["columns"])
    assert row["raw pixels"] == 1.0  # the classes differ by colour: pixels separate them
    assert json.loads((out / "results.json").read_text())["summary"] == summary
    assert (out / "probe.png").stat().st_size > 1000


def test_linear_probe_on_fsdd_layout_runs_all_three_protocols(tmp_path):
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


def test_no_file_imports_examples_common_or_edits_sys_path():
    assert not (EXAMPLES / "common.py").exists()
    # Built here so that this file does not match itself.
    banned = ["sys.path." + verb for verb in ("insert", "append")]
    banned += [f"{word} common" for word in ("import", "from")]
    for folder in ("examples", "benchmarks", "scripts", "tests", "keras_cpc"):
        for path in (EXAMPLES.parent / folder).rglob("*.*"):
            if path.suffix in (".py", ".sh"):
                text = path.read_text()
                assert not [word for word in banned if word in text], path
