"""The keras-cpc command, run in-process through `keras_cpc.cli.main`."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc import presets as preset_utils
from keras_cpc.cli import filter_backend_log, main, quiet_backend_logs
from keras_cpc.models.audio_classifier import batch_waveforms
from tests.fixtures.backbones import (
    AUDIO_RATE,
    image_batch,
    tiny_audio_backbone,
    tiny_image_backbone,
)


@pytest.fixture(scope="module")
def shipped_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shipped")
    backbone = tiny_image_backbone(seed=4)
    backbone.save_to_preset(folder / "cli_image", metadata={"description": "CLI test preset."})
    return folder


@pytest.fixture
def image_preset(shipped_folder, monkeypatch):
    """The ResNet preset 'cli_image', found by name; returns an equal backbone."""
    monkeypatch.setenv(preset_utils.PRESETS_PATH_ENV, str(shipped_folder))
    return tiny_image_backbone(seed=4)


def _write_images(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        keras.utils.save_img(folder / f"img_{i:02d}.png", image, scale=False)


def test_presets_table(image_preset, capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "cli_image" in out and "CLI test preset." in out and "ResNetBackbone" in out


def test_info_prints_metadata(image_preset, capsys):
    assert main(["info", "cli_image"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["description"] == "CLI test preset."
    assert set(info["files"]) == {"README.md", "config.json", "model.weights.h5"}


def test_extract_images_matches_predict(image_preset, tmp_path, capsys):
    images = image_batch(5, seed=7)
    _write_images(tmp_path / "images", images)
    output = tmp_path / "out" / "features.npy"
    code = main(
        [
            "extract",
            "cli_image",
            str(tmp_path / "images"),
            "--output",
            str(output),
            "--batch-size",
            "2",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    # A tqdm bar that says what it counts: 5 images (in 3 batches of at most 2).
    assert "extract" in captured.err and "5/5" in captured.err and "image/s" in captured.err
    features = np.load(output)
    expected = keras.ops.convert_to_numpy(image_preset.predict(images, verbose=0))
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    assert len(output.with_suffix(".files.txt").read_text().splitlines()) == 5


def test_extract_audio_resamples_to_preset_rate(tmp_path):
    import soundfile

    backbone = tiny_audio_backbone(seed=5)
    preset = backbone.save_to_preset(tmp_path / "cli_audio")
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(n).astype("float32") for n in (3200, 2000)]
    for i, clip in enumerate(clips):
        soundfile.write(tmp_path / f"clip{i}.wav", clip, 16000)
    output = tmp_path / "audio.npy"
    files = [str(tmp_path / "clip0.wav"), str(tmp_path / "clip1.wav")]
    assert main(["extract", str(preset), *files, "--output", str(output), "--quiet"]) == 0
    features = np.load(output)
    from keras_cpc.data import resample
    from keras_cpc.data.audio import normalize

    # Resampled to the preset's rate, then the package's peak normalisation (the default of a
    # preset that records no preprocessing).
    reread = [soundfile.read(f, dtype="float32")[0] for f in files]
    clips = [normalize(resample(c, 16000, AUDIO_RATE), "peak") for c in reread]
    expected = backbone.predict(batch_waveforms(clips, AUDIO_RATE, AUDIO_RATE), verbose=0)
    assert features.shape == (2, backbone.output_dim)
    np.testing.assert_allclose(features, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6)


def test_extract_skips_nan_and_too_short_clips_and_names_them(tmp_path, capsys):
    # The library refuses both (a NaN embedding; no frame for a clip shorter than the
    # receptive field): the CLI skips the files with one warning naming each, instead of
    # writing NaN or a zero-padded embedding.
    import soundfile

    backbone = tiny_audio_backbone(seed=5)
    preset = backbone.save_to_preset(tmp_path / "cli_audio")
    rng = np.random.default_rng(0)
    good = 0.1 * rng.standard_normal(3200).astype("float32")
    nan = good.copy()
    nan[10] = np.nan
    soundfile.write(tmp_path / "good.wav", good, AUDIO_RATE)
    soundfile.write(tmp_path / "nan.wav", nan, AUDIO_RATE, subtype="FLOAT")
    soundfile.write(tmp_path / "short.wav", good[:5], AUDIO_RATE)  # < min_samples (8)
    files = [str(tmp_path / f"{n}.wav") for n in ("nan", "good", "short")]
    output = tmp_path / "audio.npy"
    with pytest.warns(UserWarning) as record:
        assert main(["extract", str(preset), *files, "--output", str(output), "--quiet"]) == 0
    text = " ".join(str(w.message) for w in record)
    assert "nan.wav (NaN or infinite samples)" in text
    assert "short.wav (too short: 5 samples" in text
    features = np.load(output)
    assert features.shape == (1, backbone.output_dim) and np.isfinite(features).all()
    assert output.with_suffix(".files.txt").read_text().splitlines() == [files[1]]
    assert "skipped 2 unreadable" in capsys.readouterr().out


def test_extract_feeds_audio_as_the_preset_was_trained(tmp_path):
    # The preset records its audio normalisation (peak 1.0 for the FSDD preset): extract
    # applies it, so the CLI's features are those of the probe and of training.
    import soundfile

    from keras_cpc.data.audio import normalize

    backbone = tiny_audio_backbone(seed=5)
    preset = backbone.save_to_preset(
        tmp_path / "peak", metadata={"preprocessing": {"normalization": "peak"}}
    )
    clip = 0.1 * np.random.default_rng(1).standard_normal(3200).astype("float32")
    soundfile.write(tmp_path / "clip.wav", clip, AUDIO_RATE, subtype="FLOAT")
    output = tmp_path / "out.npy"
    assert (
        main(
            ["extract", str(preset), str(tmp_path / "clip.wav"), "--output", str(output), "--quiet"]
        )
        == 0
    )
    expected = backbone.predict(normalize(clip, "peak")[None], verbose=0)
    np.testing.assert_allclose(np.load(output), expected, rtol=1e-5, atol=1e-6)
    unnormalised = backbone.predict(clip[None], verbose=0)
    assert not np.allclose(np.load(output), unnormalised, rtol=1e-3)


def test_probe_command(tmp_path):
    import soundfile

    preset = tiny_audio_backbone(seed=6).save_to_preset(tmp_path / "cli_audio")
    rng = np.random.default_rng(0)
    for split, count in (("train", 10), ("test", 4)):
        for label, amplitude in (("loud", 1.0), ("quiet", 0.01)):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                clip = amplitude * rng.standard_normal(800).astype("float32")
                soundfile.write(folder / f"{i}.wav", np.clip(clip, -1, 1), AUDIO_RATE)
    code = main(
        [
            "probe",
            str(preset),
            str(tmp_path / "train"),
            "--test-dir",
            str(tmp_path / "test"),
            "--output",
            str(tmp_path / "r.json"),
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["classes"] == ["loud", "quiet"]
    assert (result["num_train"], result["num_val"]) == (16, 4)
    assert result["test_accuracy"] == 1.0
    assert str(result["best_c"]) in result["val_accuracy_by_c"]


def test_unknown_preset_exits_with_message(image_preset, capsys):
    assert main(["info", "no_such_preset"]) == 2
    err = capsys.readouterr().err
    assert "Unknown preset 'no_such_preset'" in err and "'cli_image'" in err


def test_extract_wrong_file_type(image_preset, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    code = main(
        ["extract", "cli_image", str(tmp_path / "notes.txt"), "--output", str(tmp_path / "f.npy")]
    )
    assert code == 2
    assert "Expected files ending in .png" in capsys.readouterr().err


def test_extract_skips_an_empty_jpeg_and_names_it(image_preset, tmp_path, capsys):
    images = image_batch(2, seed=3)
    _write_images(tmp_path / "images", images)
    (tmp_path / "images" / "broken.jpg").write_bytes(b"")
    output = tmp_path / "f.npy"
    with pytest.warns(UserWarning, match="broken.jpg"):
        code = main(["extract", "cli_image", str(tmp_path / "images"), "--output", str(output),
                     "--quiet"])  # fmt: skip
    assert code == 0
    assert "skipped 1 unreadable" in capsys.readouterr().out
    assert np.load(output).shape[0] == 2
    listed = output.with_suffix(".files.txt").read_text()
    assert "broken.jpg" not in listed and len(listed.splitlines()) == 2


def test_probe_command_without_test_dir_runs_the_baselines(image_preset, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label, channel in (("red", 0), ("green", 1)):
        images = rng.integers(0, 60, size=(10, 8, 8, 3), dtype="uint8")
        images[..., channel] += 150
        _write_images(tmp_path / "data" / label, images)
    code = main(["probe", "cli_image", str(tmp_path / "data"), "--holdout-fraction", "0.3",
                 "--output", str(tmp_path / "r.json"), "--quiet"])  # fmt: skip
    assert code == 0
    assert "data classes" in capsys.readouterr().out
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["columns"] == ["preset", "random init", "raw pixels"]
    assert summary["accuracy"]["data classes"]["raw pixels"] == 1.0


# ---- quick and quiet ------------------------------------------------------------------------

BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")


def test_listing_info_and_help_import_no_backend(image_preset):
    # A fresh interpreter (the preset folder comes through the environment): after each
    # command, sys.modules must hold no backend and not keras.
    commands = [["presets"], ["info", "cli_image"], ["--help"], ["extract", "--help"],
                ["probe", "--help"]]  # fmt: skip
    code = f"""
import contextlib, io, sys
from keras_cpc.cli import main
for argv in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            status = main(argv)
        except SystemExit as exit:  # argparse's --help
            status = exit.code
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {BACKEND_MODULES!r})
    print(argv, status, heavy, "cli_image" in out.getvalue())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    # presets and info name the preset; the help texts do not.
    assert lines == [f"{argv} 0 [] {i < 2}" for i, argv in enumerate(commands)]
    assert result.stderr == ""


def test_quiet_backend_logs_keeps_what_the_user_set():
    environ = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    quiet_backend_logs(environ)
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert environ["GRPC_VERBOSITY"] == "ERROR"


def test_filter_backend_log_drops_records_below_the_level():
    text = (
        "a line of the program's own\n"
        "WARNING: All log messages before absl::InitializeLog() is called are written to "
        "STDERR\n"
        "I0000 00:00:1796004510.746059   15250 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796004510.8   15250 cpu_feature_guard.cc:227] This binary is optimized.\n"
        "To enable the following instructions: AVX2\n"
        "E0000 00:00:1796004510.9   15250 cuda_dnn.cc:8] Unable to register cuDNN factory\n"
        "continued\n"
    )
    # A line after a record belongs to it (TensorFlow's multi-line notices) and goes with it.
    assert filter_backend_log(text, 2) == (
        "a line of the program's own\n"
        "E0000 00:00:1796004510.9   15250 cuda_dnn.cc:8] Unable to register cuDNN factory\n"
        "continued\n"
    )
    assert filter_backend_log(text, 0) == text
    assert filter_backend_log(text, 3) == "a line of the program's own\n"


def test_cli_startup_benchmark_runs(image_preset):
    # One timed run per command, no time limit (the machine may be busy): the benchmark's own
    # check that no backend module is imported must pass.
    script = Path(__file__).parent.parent / "benchmarks" / "cli_startup.py"
    command = [sys.executable, str(script), "--repeats", "1", "--target", "0"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = result.stdout.strip().splitlines()[1:]
    assert len(rows) == 4 and all(row.endswith(" s  none") for row in rows), rows
    assert "keras-cpc info cli_image" in result.stdout


# ---- --dtype-policy, --batch-size, --threads ------------------------------------------------


def test_extract_under_mixed_bfloat16_writes_float32_features_close_to_float32(
    image_preset, tmp_path, capsys
):
    images = image_batch(4, seed=8)
    _write_images(tmp_path / "images", images)
    output = tmp_path / "bf16.npy"
    argv = ["extract", "cli_image", str(tmp_path / "images"), "--output", str(output), "--quiet"]
    assert main([*argv, "--dtype-policy", "mixed_bfloat16"]) == 0
    assert "mixed_bfloat16 model" in capsys.readouterr().out
    features = np.load(output)
    expected = keras.ops.convert_to_numpy(image_preset.predict(images, verbose=0))
    assert features.dtype == np.float32 and features.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(features, expected, atol=2e-2 * scale)
    # Computed in bfloat16 (8-bit mantissa), not in float32 under another name.
    assert np.abs(features - expected).max() > 1e-5 * scale


def test_extract_batch_size_defaults_to_the_backends_and_refuses_zero(
    image_preset, tmp_path, capsys
):
    from keras_cpc.evaluation import features
    from keras_cpc.training import runs, threads

    _write_images(tmp_path / "images", image_batch(3, seed=9))
    argv = ["extract", "cli_image", str(tmp_path / "images"), "--output", str(tmp_path / "f.npy")]
    assert main([*argv, "--quiet"]) == 0
    default = features.DEFAULT_BATCH_SIZES[keras.backend.backend()]["image"]
    assert f"float32 model, batch {default})" in capsys.readouterr().out
    assert main([*argv, "--quiet", "--batch-size", "2"]) == 0
    assert "batch 2)" in capsys.readouterr().out
    assert main([*argv, "--batch-size", "0"]) == 2
    assert "error: Expected a batch size >= 1 (or None" in capsys.readouterr().err
    # --help shows the library's own tables, read without importing them.
    from keras_cpc.cli import library_constant

    assert library_constant("evaluation/features.py", "DEFAULT_BATCH_SIZES") == (
        features.DEFAULT_BATCH_SIZES
    )
    assert library_constant("training/runs.py", "DTYPE_POLICIES") == runs.DTYPE_POLICIES
    assert library_constant("training/threads.py", "THREADS_ENV") == threads.THREADS_ENV


def test_threads_flag_is_applied_before_the_model_is_loaded(
    image_preset, tmp_path, monkeypatch, capsys
):
    from keras_cpc.models import Backbone
    from keras_cpc.training import process

    events = []
    monkeypatch.setattr(process, "set_threads", lambda n: events.append(("threads", n)))
    load = Backbone.from_preset.__func__
    monkeypatch.setattr(
        Backbone, "from_preset", classmethod(lambda *a, **k: events.append("load") or load(*a, **k))
    )
    _write_images(tmp_path / "images", image_batch(2, seed=9))
    argv = ["extract", "cli_image", str(tmp_path / "images"), "--output", str(tmp_path / "f.npy")]
    assert main([*argv, "--quiet", "--threads", "1"]) == 0
    assert events == [("threads", 1), "load"]
    monkeypatch.undo()
    # The real set_threads refuses a count below 1 before touching any runtime.
    assert main([*argv, "--threads", "0"]) == 2
    assert "Expected --threads to be a whole number >= 1; received 0" in capsys.readouterr().err
