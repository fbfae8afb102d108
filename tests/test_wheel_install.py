"""Acceptance 5: the built wheel, installed in a fresh venv, finds shipped presets by name.

Builds the wheel from a temporary copy of the package with a tiny preset added to
``presets/`` (no trained preset is shipped yet), installs it offline into a fresh virtual
environment (``--system-site-packages`` for keras and the backends, ``--no-deps --no-index``),
and from a folder outside the repository loads the preset by name, lists it through the
console-script entry point and compares outputs with the saving process.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.fixtures.backbones import audio_batch, tiny_audio_backbone

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ("keras_cpc", "presets", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
PRESET_NAME = "wheel_test_tiny"


def _run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


@pytest.mark.slow
def test_wheel_in_fresh_venv_loads_preset_by_name(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in PACKAGE_FILES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif origin.exists():
            shutil.copy2(origin, source / name)
    backbone = tiny_audio_backbone(seed=11)
    backbone.save_to_preset(
        source / "presets" / PRESET_NAME, metadata={"description": "Wheel test preset."}
    )
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            ".",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=source,
    )
    wheel = next((tmp_path / "dist").glob("keras_cpc-*.whl"))

    venv = tmp_path / "venv"
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        cwd=tmp_path,
    )
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        cwd=tmp_path,
    )
    assert (venv / "bin" / "keras-cpc").is_file()

    waveforms = audio_batch(2, samples=400, seed=3)
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import keras_cpc
        from keras_cpc.cli import main
        from keras_cpc.models import Backbone
        backbone = Backbone.from_preset("{PRESET_NAME}")
        out = np.asarray(backbone.predict(np.load("inputs.npy"), verbose=0)).tolist()
        main(["presets"])
        print(json.dumps({{"file": keras_cpc.__file__, "out": out}}))
        """
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    np.save(outside / "inputs.npy", waveforms)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_CPC_PRESETS_PATH")}
    env["KERAS_BACKEND"] = keras.backend.backend()
    stdout = _run([str(python), "-c", script], cwd=outside, env=env)
    table, payload = stdout.strip().rsplit("\n", 1)
    payload = json.loads(payload)
    assert Path(payload["file"]).resolve().is_relative_to(venv.resolve())
    assert PRESET_NAME in table and "Wheel test preset." in table
    expected = keras.ops.convert_to_numpy(backbone.predict(waveforms, verbose=0))
    np.testing.assert_allclose(np.asarray(payload["out"]), expected, rtol=1e-6, atol=1e-7)
