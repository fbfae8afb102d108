"""``keras-cpc convert``: official checkpoints into presets, format detection and its errors."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from keras_cpc.cli import main
from keras_cpc.models import CPCBackbone
from keras_cpc.models.convert import convert_checkpoint, detect_format, tf1_prefix

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CPC_TRAIN = FIXTURES / "cpc_audio" / "gru_train_format"


def test_convert_a_cpc_audio_training_folder_prints_mapping_and_reference_check(tmp_path, capsys):
    output = tmp_path / "cpc_gru"
    argv = ["convert", str(CPC_TRAIN), str(output), "--quiet", "--name", "cpc_test"]
    assert main([*argv, "--reference", str(CPC_TRAIN / "reference_outputs.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Converted {CPC_TRAIN} (cpc_audio) into {output}"
    assert lines[1].strip() == "mapped:  24 (gAR 4, gEncoder 20)"
    # A training checkpoint also holds the criterion's 12 predictors and the optimizer.
    assert lines[2].strip().startswith("skipped: ") and "cpcCriterion" in lines[2]
    for output_name, line in zip(("z", "c"), lines[3:5]):
        name, _, value = line.strip().partition(": largest relative difference to the reference ")
        assert name == output_name and float(value) <= 1e-4
    backbone = CPCBackbone.from_preset(output)
    assert backbone.get_config()["sample_rate"] == 16000
    # keras-cpc extract feeds the converted preset as CPC_audio expects: samples as read at
    # 16 kHz, no normalisation (recorded in the preset).
    import numpy as np
    import soundfile

    clip = 0.3 * np.sin(np.linspace(0, 400, 3200, dtype="float32"))
    soundfile.write(tmp_path / "clip.wav", clip, 16000, subtype="FLOAT")
    features = tmp_path / "features.npy"
    assert (
        main(
            [
                "extract",
                str(output),
                str(tmp_path / "clip.wav"),
                "--output",
                str(features),
                "--quiet",
            ]
        )
        == 0
    )
    expected = backbone.predict(clip[None], sample_rate=16000, verbose=0)
    np.testing.assert_allclose(np.load(features), expected, rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert "# cpc_test" in (output / "README.md").read_text()
    # The output must be new: a second conversion into it is refused.
    assert main(argv) == 2
    assert "keras-cpc convert: error:" in capsys.readouterr().err


def test_formats_are_detected_from_files_prefixes_and_folders(tmp_path):
    tf1 = tmp_path / "r50_1x_sk0"
    tf1.mkdir()
    for name in ("checkpoint", "model.ckpt-5.index", "model.ckpt-5.data-00000-of-00001"):
        (tf1 / name).write_bytes(b"")
    for source in (tf1, tf1 / "model.ckpt-5", tf1 / "model.ckpt-5.index"):
        assert detect_format(source) == "simclr_tf1"
    assert detect_format(tf1 / "model.ckpt-5.data-00000-of-00001") == "simclr_tf1"
    assert tf1_prefix(tf1 / "model.ckpt-5.index") == str(tf1 / "model.ckpt-5")
    assert tf1_prefix(tf1 / "model.ckpt-5.data-00000-of-00001") == str(tf1 / "model.ckpt-5")
    assert tf1_prefix(tf1) == str(tf1)
    assert detect_format(CPC_TRAIN) == "cpc_audio"
    assert detect_format(CPC_TRAIN / "checkpoint_0.pt") == "cpc_audio"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.pt", "does not exist"),
        (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "Unknown checkpoint"),
        (lambda p: p, "Unknown checkpoint format"),  # a folder without a checkpoint
        (lambda p: zipfile.ZipFile(p / "r.zip", "w").close() or p / "r.zip", "unpack it first"),
    ],
)
def test_unknown_sources_get_a_clear_error(tmp_path, capsys, make, message):
    source = make(tmp_path)
    assert main(["convert", str(source), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-cpc convert: error:") and message in error
    assert not (tmp_path / "out").exists()


def test_a_remote_name_must_match_the_format(tmp_path):
    with pytest.raises(ValueError, match="converted from the simclr_tf1 format; received a cpc"):
        convert_checkpoint(CPC_TRAIN, tmp_path / "out", name="simclr_v2_r50_1x_sk0_imagenet")
    with pytest.raises(ValueError, match="`format` must be one of auto, simclr_tf1, cpc_audio"):
        convert_checkpoint(CPC_TRAIN, tmp_path / "out", format="onnx")


def test_convert_help_loads_no_backend():
    code = (
        "import sys\n"
        "from keras_cpc.cli import build_parser\n"
        "try:\n    build_parser().parse_args(['convert', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow', 'jax', "
        "'torch'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--reference" in result.stdout and "simclr_tf1" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
