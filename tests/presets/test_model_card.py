"""The one model-card writer: renders what the metadata holds, nothing it was not given."""

import json
from pathlib import Path

import numpy as np

from keras_cpc.presets import model_card, probe_table_markdown, read_metadata, save_preset
from tests.fixtures.backbones import tiny_audio_backbone

PROBE = {
    "split": "index 5-9 held out",
    "columns": ["preset", "random init"],
    "accuracy": {"digit ID": {"preset": 0.9766, "random init": 0.6033}},
    "command": "python examples/linear_probe.py cpc --data $DATA/fsdd/recordings",
}
METADATA = {
    "description": "CPC on FSDD",
    "class_name": "keras_cpc>CPCBackbone",
    "parameter_count": 1448960,
    "input_spec": {"modality": "audio", "sample_rate": 8000, "channels": 1},
    "preprocessing": {"sample_rate": 8000, "channels": "mono", "normalization": "peak 0.95"},
    "dtype": "float32",
    "keras_cpc_version": "0.1.0",
    "keras_version": "3.15.1",
    "backend": "jax",
    "training_data": {
        "source": "$DATA/fsdd/recordings",
        "examples": 2400,
        "held_out": 300,
        "split": "index 5-9",
    },
    "seed": 0,
    "training": {"wall_time_s_all_epochs": 12.5, "final_epoch_metrics": {"loss": 1.5}},
    "hardware": {"cpu": "AMD EPYC", "cpu_cores_usable": 2, "accelerators": [], "keras": "3.15.1"},
    "training_command": "python examples/pretrain_cpc.py --data $DATA/fsdd/recordings",
    "probe_results": PROBE,
}


def test_card_renders_every_entry_present():
    card = model_card("cpc_toy", METADATA, sections={"objective": ["- Objective: CPC InfoNCE"]})
    for expected in (
        "# cpc_toy",
        "CPC on FSDD.",
        "- Backbone: `keras_cpc>CPCBackbone` (1,448,960 parameters)",
        "- Preprocessing: sample_rate: 8000; channels: mono; normalization: peak 0.95",
        "- dtype: `float32`",
        "- Saved with keras_cpc 0.1.0, Keras 3.15.1 (jax backend)",
        "## Training\n\n- Objective: CPC InfoNCE\n- Data: `$DATA/fsdd/recordings`, 2400 training "
        "examples; 300 held out (index 5-9)",
        "- Seed: 0",
        "- Wall time: 12.5 s",
        "- Hardware: AMD EPYC (2 usable cores), accelerators: none; Keras 3.15.1",
        '- Final epoch metrics: `{"loss": 1.5}`',
        "```\npython examples/pretrain_cpc.py --data $DATA/fsdd/recordings\n```",
        "| digit ID | 97.7% | 60.3% |",
        "Command:\n\n```\npython examples/linear_probe.py cpc --data $DATA/fsdd/recordings\n```",
        'from keras_cpc.models import CPCBackbone\nbackbone = CPCBackbone.from_preset("cpc_toy")',
    ):
        assert expected in card, expected


def test_card_leaves_out_what_is_missing_or_empty():
    card = model_card("bare", {"training": {"final_epoch_metrics": {}}})
    assert "Final epoch metrics" not in card and "## Training" not in card
    assert "not recorded" not in card and "## Linear probe" not in card
    usage = ["import keras_cpc", 'keras_cpc.models.Backbone.from_preset("{name}")']
    card = model_card("bare", {}, sections={"usage": usage, "notes": ["Toy only."]})
    assert 'from_preset("bare")' in card and "## Notes\n\nToy only." in card


def test_probe_table_marks_missing_cells():
    summary = {"columns": ["a", "b"], "accuracy": {"task": {"a": 0.5}}}
    assert probe_table_markdown(summary)[-1] == "| task | 50.0% | - |"


def test_saved_card_shows_preprocessing_and_no_unasked_path(tmp_path):
    preprocessing = {"sample_rate": 8000, "channels": "mono", "normalization": "peak 0.95"}
    path = save_preset(
        tmp_path / "carded",
        tiny_audio_backbone(seed=1),
        metadata={"description": "Tiny", "preprocessing": preprocessing},
        card_sections={"objective": ["- Objective: toy"]},
    )
    metadata = read_metadata(path)
    assert metadata["preprocessing"] == preprocessing
    assert metadata["dtype"] == "float32"
    card = (path / "README.md").read_text()
    assert "- Preprocessing: sample_rate: 8000; channels: mono" in card
    assert "- Objective: toy" in card
    for machine_path in {str(tmp_path), str(Path.home()), str(Path.cwd())}:
        assert machine_path not in card
    assert json.loads((path / "config.json").read_text())["registered_name"] == (
        "keras_cpc>CPCBackbone"
    )
    assert np.isfinite(metadata["parameter_count"])
