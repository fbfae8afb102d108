"""The presets this repository ships: intact, loadable, documented and small enough.

Unlike tests/models/test_backbone_presets.py (which builds tiny presets on the fly), these
check the real folders under ``presets/`` against their registry entries.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import keras_cpc
from keras_cpc.models import CPCBackbone, ResNetBackbone
from keras_cpc.presets import registered_presets, sha256_of
from tests.helpers import run_preset_test

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
# Remote presets (official weights, downloaded on first use) ship no folder: see test_remote.py.
SHIPPED = sorted(n for n, e in registered_presets().items() if "remote" not in e["metadata"])
# The budget the repository keeps for all shipped presets together: 60 MB.
MAX_TOTAL_BYTES = 60 * 10**6
# And for any one file (the repository's rule for tracked files; larger weights are sharded).
MAX_FILE_BYTES = 30 * 2**20


def test_every_registered_preset_ships_and_every_folder_is_registered():
    folders = sorted(p.name for p in PRESETS_DIR.iterdir() if p.is_dir())
    assert folders == SHIPPED


def test_shipped_presets_stay_under_the_size_budget():
    total = sum(f.stat().st_size for f in PRESETS_DIR.rglob("*") if f.is_file())
    assert total < MAX_TOTAL_BYTES, f"presets/ holds {total / 1e6:.1f} MB"
    too_big = [str(f) for f in PRESETS_DIR.rglob("*") if f.stat().st_size > MAX_FILE_BYTES]
    assert not too_big, f"files over 30 MiB (save them with max_shard_size): {too_big}"


@pytest.mark.parametrize("name", SHIPPED)
def test_model_card_documents_how_the_preset_was_made(name):
    folder = PRESETS_DIR / name
    metadata = json.loads((folder / "metadata.json").read_text())
    for filename, digest in metadata["files"].items():
        assert sha256_of(folder / filename) == digest, filename
    card = (folder / "README.md").read_text()
    for needle in ("Exact command", "Seed", "Wall time", "Hardware", "Data", "Linear probe"):
        assert needle in card, f"model card of {name} lacks {needle!r}"
    assert metadata["training_command"] in card
    assert metadata["probe_results"], "the card's probe numbers must be recorded in metadata"


def fixed_input(name):
    """A fixed batch for a preset: two 0.5 s tones (audio) or two seeded uint8 images."""
    spec = json.loads((PRESETS_DIR / name / "metadata.json").read_text())["input_spec"]
    rng = np.random.default_rng(0)
    if spec["modality"] == "audio":
        t = np.arange(4000) / 8000.0
        tones = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 440 * t) * np.exp(-t)])
        return (0.5 * (tones + 0.01 * rng.normal(size=(2, 4000)))).astype("float32")
    return rng.integers(0, 256, size=(2, *spec["image_shape"])).astype("uint8")


# The first five features of each row of fixed_input(name), recorded with the shipped weights
# (equal on TensorFlow, JAX and PyTorch to 1e-5).
EXPECTED = {
    "cpc_gru_fsdd_8khz": (
        CPCBackbone,
        (2, 256),
        [
            [0.19771, -0.75508, 0.40058, -0.24651, -0.82324],
            [-0.03008, -0.37399, -0.19459, -0.58529, 0.32285],
        ],
    ),
    "simclr_resnet18_cifar10": (
        ResNetBackbone,
        (2, 512),
        [
            [0.00053, 0.01476, 0.00218, 0.00074, 0.0005],
            [0.00746, 0.02064, 0.00235, 0.00111, 0.0],
        ],
    ),
    "simclr_resnet18_cifar10_cpu": (
        ResNetBackbone,
        (2, 128),
        [
            [0.64355, 0.07563, 0.0, 0.00079, 0.01128],
            [0.58907, 0.01256, 0.0, 0.01569, 0.01776],
        ],
    ),
}


def test_every_shipped_preset_has_recorded_outputs():
    assert sorted(EXPECTED) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_gives_its_recorded_outputs(name):
    cls, shape, partial = EXPECTED[name]
    backbone = run_preset_test(cls, name, fixed_input(name), shape, partial)
    assert backbone.count_params() == keras_cpc.list_presets()[name]["params"]


def test_recorded_outputs_catch_random_weights():
    # The check must fail for the same architecture without the trained weights.
    name = "simclr_resnet18_cifar10_cpu"
    cls, shape, partial = EXPECTED[name]
    random_init = cls.from_preset(name, load_weights=False)
    output = np.asarray(random_init.predict(fixed_input(name), verbose=0))
    assert output.shape == shape
    assert not np.allclose(output[:, :5], partial, rtol=1e-4, atol=1e-4)
