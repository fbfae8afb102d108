"""The presets this repository ships: intact, loadable, documented and small enough.

Unlike tests/models/test_backbone_presets.py (which builds tiny presets on the fly), these
check the real folders under ``presets/`` against their registry entries.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import keras_cpc
from keras_cpc.models import Backbone
from keras_cpc.presets import registered_presets, sha256_of

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
SHIPPED = sorted(registered_presets())
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


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_loads_by_name_and_gives_finite_features(name):
    entry = keras_cpc.list_presets()[name]
    backbone = Backbone.from_preset(name)
    assert backbone.count_params() == entry["params"]
    spec = json.loads((PRESETS_DIR / name / "metadata.json").read_text())["input_spec"]
    rng = np.random.default_rng(0)
    if spec["modality"] == "audio":
        batch = rng.normal(scale=0.1, size=(2, spec["sample_rate"] // 2)).astype("float32")
    else:
        batch = rng.uniform(0, 255, size=(2, *spec["image_shape"])).astype("float32")
    features = np.asarray(backbone.predict(batch, verbose=0))
    assert features.shape[0] == 2 and features.ndim == 2
    assert np.all(np.isfinite(features))
