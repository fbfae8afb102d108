"""keras_cpc.evaluation.protocols: the preset / random init / raw baseline probe of a preset."""

import json

import numpy as np
import pytest

from keras_cpc.evaluation import (
    audio_protocols,
    format_table,
    image_task_name,
    limit_split,
    probe_preset,
    probe_table_markdown,
)
from tests.fixtures.backbones import tiny_audio_backbone, tiny_image_backbone


def test_probe_preset_on_digits_gives_three_columns_and_a_table(tmp_path):
    preset = tiny_image_backbone(seed=3).save_to_preset(tmp_path / "tiny_image")
    out = tmp_path / "probe"
    results = probe_preset(
        str(preset), limit=120, c_values=(1.0,), output_dir=out, progress=False, command="x"
    )
    summary = results["summary"]
    assert summary["columns"] == ["preset", "random init", "raw pixels"]
    assert list(summary["accuracy"]) == ["digit (load_digits)"]
    row = summary["accuracy"]["digit (load_digits)"]
    assert all(0.0 <= row[c] <= 1.0 for c in summary["columns"])
    assert row["raw pixels"] > 0.5  # 8x8 digits are linearly separable enough; chance 0.1
    assert summary["feature_dims"]["raw pixels"] == 64  # the original 8x8 grey pixels
    assert "stratified 0.3 test split (seed 0)" in summary["split"]
    probe = results["details"]["digit (load_digits)"]["preset"]["probes"][0]
    # limit=120 is shared in proportion: 36 test (30%), 84 train of which 20% validate C.
    assert probe["num_train"] + probe["num_val"] == 84
    table = format_table(summary)
    assert "digit (load_digits)" in table and "raw pixels" in table and "%" in table
    assert json.loads((out / "results.json").read_text())["summary"] == summary
    assert (out / "probe.png").stat().st_size > 1000


def test_probe_preset_is_repeatable(tmp_path):
    preset = tiny_image_backbone(seed=3).save_to_preset(tmp_path / "tiny_image")
    runs = [probe_preset(str(preset), limit=60, c_values=(1.0,), progress=False) for _ in "ab"]
    assert runs[0]["summary"]["accuracy"] == runs[1]["summary"]["accuracy"]


def test_probe_preset_on_fsdd_layout_runs_the_three_audio_protocols(tmp_path):
    import soundfile

    preset = tiny_audio_backbone(seed=2).save_to_preset(tmp_path / "tiny_audio")
    data = tmp_path / "recordings"
    data.mkdir()
    rng = np.random.default_rng(0)
    for digit in (0, 1):
        for pitch, speaker in ((150.0, "anna"), (300.0, "bob")):
            for index in range(5, 15):
                t = np.arange(int(8000 * rng.uniform(0.1, 0.2))) / 8000
                clip = np.sin(2 * np.pi * pitch * (1 + (digit + 1) * t) * t)
                soundfile.write(data / f"{digit}_{speaker}_{index}.wav", clip, 8000)
    results = probe_preset(str(preset), str(data), c_values=(1.0,), progress=False)
    summary = results["summary"]
    assert summary["columns"] == ["preset", "random init", "MFCC mean+std"]
    assert list(summary["accuracy"]) == [
        "digit ID",
        "speaker ID",
        "digit ID, leave one speaker out",
    ]
    assert "index 5-9 held out" in summary["split"]
    folds = results["details"]["digit ID, leave one speaker out"]["preset"]["fold_accuracies"]
    assert len(folds) == 2
    assert summary["accuracy"]["speaker ID"]["MFCC mean+std"] >= 0.8  # pitch differs


def test_audio_protocols_official_and_carved_splits():
    info = {
        "digit": np.array([0, 1, 0, 1, 0, 1]),
        "speaker": np.array(["a", "a", "b", "b", "a", "b"]),
        "index": np.array([5, 6, 7, 8, 12, 13]),
    }
    protocols, split = audio_protocols(info, heldout_indices="5-6,8")
    labels, train, test = protocols["digit ID"][0]
    assert test.tolist() == [0, 1, 3] and train.tolist() == [2, 4, 5]
    assert "index 5-6,8 held out" in split and "2 folds" in split
    assert len(protocols["digit ID, leave one speaker out"]) == 2
    info["index"] = np.array([0, 4, 7, 8, 12, 13])  # official test part present
    protocols, split = audio_protocols(info, leave_one_speaker_out=False)
    assert protocols["speaker ID"][0][2].tolist() == [0, 1]
    assert split.startswith("official FSDD split") and len(protocols) == 2


def test_limit_split_keeps_the_test_share():
    train, test = np.arange(70), np.arange(70, 100)
    small_train, small_test = limit_split(train, test, 20, seed=0)
    assert (len(small_train), len(small_test)) == (10, 10)  # at least 10 test examples
    small_train, small_test = limit_split(train, test, 50, seed=0)
    assert (len(small_train), len(small_test)) == (35, 15)
    assert set(small_train) <= set(train) and set(small_test) <= set(test)
    kept_train, kept_test = limit_split(train, test, None, seed=0)
    assert kept_train is train and kept_test is test


def test_task_names_carry_no_machine_path(tmp_path):
    (tmp_path / "cifar10" / "train").mkdir(parents=True)
    assert image_task_name(tmp_path / "cifar10" / "train") == "cifar10 classes"
    assert image_task_name(tmp_path / "cifar10") == "cifar10 classes"
    assert image_task_name("tfds:cifar10") == "cifar10 classes"


def test_probe_table_markdown():
    summary = {
        "split": "held out",
        "columns": ["preset", "raw"],
        "accuracy": {"digits": {"preset": 0.9, "raw": 0.5}},
    }
    assert probe_table_markdown(summary) == [
        "Split: held out.",
        "",
        "| task | preset | raw |",
        "|---|---:|---:|",
        "| digits | 90.0% | 50.0% |",
    ]


def test_save_plot_refuses_an_unknown_projection(tmp_path):
    from keras_cpc.evaluation import save_plot

    summary = {"preset": "p", "columns": ["a"], "accuracy": {"t": {"a": 0.5}}}
    with pytest.raises(ValueError, match="Expected projection 'pca' or 'tsne'; received 'umap'"):
        save_plot(tmp_path / "p.png", summary, np.zeros((4, 3)), np.arange(4), "umap")
