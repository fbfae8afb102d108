"""CPC_audio checkpoints -> CPCBackbone presets: official outputs reproduced, mapping by name."""

import hashlib
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cpc.models import AudioClassifier, CPCBackbone
from keras_cpc.models.cpc.convert_cpc_audio import (
    convert_cpc_audio_checkpoint,
)
from keras_cpc.models.cpc.cpc_audio_checkpoint import (
    backbone_kwargs,
    expected_tensors,
    map_state,
    read_checkpoint,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cpc_audio"
# name: (source given to the converter, the .pt file it reads, context network)
CASES = {
    "lstm_hub": (FIXTURES / "lstm_hub_format" / "cpc_lstm.pt", "cpc_lstm.pt", "lstm"),
    "gru_train": (FIXTURES / "gru_train_format", "checkpoint_0.pt", "gru"),
}
CRITERION = [f"cpcCriterion/wPrediction.predictors.{k}.weight" for k in range(12)]


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def reference(case):
    folder = FIXTURES / ("lstm_hub_format" if case == "lstm_hub" else "gru_train_format")
    return folder / "reference_outputs.npz"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Each fixture converted once (verified against its reference outputs while converting)."""
    root = tmp_path_factory.mktemp("cpc_audio")
    return {
        case: convert_cpc_audio_checkpoint(
            source,
            root / case,
            name=f"cpc_audio_{case}",
            reference_outputs=reference(case),
            source_url=f"https://example.org/{file}",
            published={"source": "a test", "KS accuracy (%)": 92.02},
            progress=False,
        )
        for case, (source, file, _) in CASES.items()
    }


def test_both_fixtures_convert_and_reproduce_the_official_outputs(converted):
    for case, (source, file, context) in CASES.items():
        result = converted[case]
        assert set(result["max_relative_difference"]) == {"z", "c"}
        assert max(result["max_relative_difference"].values()) <= 1e-4
        assert len(result["mapped"]) == 24  # 5 x (conv w, b, norm w, b) + 4 recurrent tensors
        first = ("gEncoder.conv0.weight", "encoder/conv0/kernel", (256, 1, 10))
        assert result["mapped"][0] == first
        biases = [path for key, path, _ in result["mapped"] if key.startswith("gAR.baseNet.b")]
        assert biases == [f"context0/{context}_cell/bias"] * 2
        skipped = [] if case == "lstm_hub" else ["best", *CRITERION, "optimizer"]
        assert result["skipped"] == skipped
        assert result["config"]["context_network"] == context
        assert result["config"]["sample_rate"] == 16000

        preset = Path(result["preset_dir"])
        metadata = json.loads((preset / "metadata.json").read_text())
        pt_file = source if source.is_file() else source / file
        assert metadata["source"]["file"] == file
        assert metadata["source"]["sha256"] == hashlib.sha256(pt_file.read_bytes()).hexdigest()
        assert metadata["source"]["licence"].startswith("MIT")
        assert metadata["preprocessing"]["sample_rate"] == 16000
        assert metadata["preprocessing"]["normalization"] is None
        assert metadata["published_results"]["KS accuracy (%)"] == 92.02
        assert "not measured" in metadata["published_results"]["note"]
        card = (preset / "README.md").read_text()
        assert f"# cpc_audio_{case}" in card and f"`{file}`" in card and "MIT" in card
        assert "Published results (not measured here)" in card
        for text in (card, json.dumps(metadata)):
            assert str(FIXTURES) not in text and str(preset.parent) not in text


def test_converted_preset_reloads_and_trains_in_audio_classifier(converted):
    classifier = AudioClassifier.from_preset(
        converted["gru_train"]["preset_dir"], num_classes=2, freeze_backbone=True
    )
    # The reloaded backbone gives the official z and c on the frames of the first 3200
    # samples that see no sample beyond them (c is causal): a sixth of the reference's cost.
    with np.load(reference("gru_train")) as data:
        waveforms, z, c = data["input"][:, 0, :3200], data["encoded_z"], data["context_c"]
    outputs = classifier.backbone.encode(waveforms)
    frames = [t for t in range(20) if classifier.backbone.frame_span(t)[1] < 3200]
    assert len(frames) >= 17
    for ours, theirs in ((outputs["z"], z), (outputs["c"], c)):
        ours, theirs = to_numpy(ours)[:, frames], theirs[:, frames]
        assert np.max(np.abs(ours - theirs)) <= 1e-4 * np.max(np.abs(theirs))
    classifier.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=True)
    history = classifier.fit(waveforms, np.array([0, 1]), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# ---- mapping by name, on in-memory state dicts of a tiny CPC_audio-shaped model -------------
def tiny(ar_mode="GRU"):
    backbone = CPCBackbone(
        **backbone_kwargs({"hiddenEncoder": 16, "hiddenGar": 16, "arMode": ar_mode})
    )
    rng = np.random.default_rng(0)
    state = {
        key: rng.normal(size=shape).astype("float32")
        for key, (_, shape, _) in expected_tensors(backbone).items()
    }
    return backbone, state


def test_mapping_puts_each_tensor_in_its_place():
    backbone, state = tiny("LSTM")
    map_state(state, backbone)
    summed = state["gAR.baseNet.bias_ih_l0"] + state["gAR.baseNet.bias_hh_l0"]
    np.testing.assert_array_equal(to_numpy(backbone.context[0].cell.bias), summed)

    backbone, state = tiny("GRU")
    map_state(state, backbone)
    cell = backbone.context[0].cell
    r, z, n = np.split(state["gAR.baseNet.weight_ih_l0"], 3)  # torch r, z, n -> Keras z, r, n
    np.testing.assert_array_equal(to_numpy(cell.kernel), np.concatenate([z, r, n]).T)
    r, z, n = np.split(state["gAR.baseNet.weight_hh_l0"], 3)
    np.testing.assert_array_equal(to_numpy(cell.recurrent_kernel), np.concatenate([z, r, n]).T)
    r, z, n = np.split(state["gAR.baseNet.bias_hh_l0"], 3)
    np.testing.assert_array_equal(to_numpy(cell.bias)[1], np.concatenate([z, r, n]))
    conv = to_numpy(backbone.encoder.convs[1].kernel)
    np.testing.assert_array_equal(conv, state["gEncoder.conv1.weight"].transpose(2, 1, 0))
    gamma = to_numpy(backbone.encoder.norms[4].gamma)
    np.testing.assert_array_equal(gamma, state["gEncoder.batchNorm4.weight"][0, :, 0])

    # A renamed, missing, extra or misshapen tensor is refused, naming it; nothing is assigned.
    def renamed(s):
        s["gEncoder.conv1.weights"] = s.pop("gEncoder.conv1.weight")

    def dropped(s):
        del s["gAR.baseNet.bias_hh_l0"]

    def extra(s):
        s["gAR.baseNet.weight_ih_l1"] = s["gAR.baseNet.weight_ih_l0"]

    def misshapen(s):
        s["gEncoder.batchNorm2.bias"] = s["gEncoder.batchNorm2.bias"].reshape(-1)

    cases = {
        renamed: "missing: gEncoder.conv1.weight; unexpected: gEncoder.conv1.weights",
        dropped: "missing: gAR.baseNet.bias_hh_l0",
        extra: "unexpected: gAR.baseNet.weight_ih_l1",
        misshapen: "wrong shape: gEncoder.batchNorm2.bias (16,) (expected (1, 16, 1))",
    }
    before = [to_numpy(w) for w in backbone.weights]
    for edit, message in cases.items():
        broken = {k: v + 1.0 for k, v in state.items()}
        edit(broken)
        with pytest.raises(ValueError, match="does not match a CPC_audio model") as error:
            map_state(broken, backbone)
        assert message in str(error.value)
    for old, variable in zip(before, backbone.weights):
        np.testing.assert_array_equal(old, to_numpy(variable))


def test_unsupported_architectures_are_refused_naming_what_is_supported():
    cases = [
        ({"arMode": "transformer"}, "arMode 'transformer'"),
        ({"normMode": "batchNorm"}, "normMode 'batchNorm'"),
        ({"nLevelsGRU": 2}, "nLevelsGRU 2"),
        ({"encoder_type": "mfcc", "cpc_mode": "reverse"}, "encoder_type 'mfcc', cpc_mode"),
    ]
    for flags, named in cases:
        with pytest.raises(ValueError, match="Unsupported CPC_audio architecture") as error:
            backbone_kwargs(flags)
        assert named in str(error.value) and "supported: encoder_type 'cpc'" in str(error.value)


# ---- files -------------------------------------------------------------------------------------
def test_tiny_hub_file_round_trip_and_a_failed_check_saves_nothing(tmp_path):
    import torch

    backbone, state = tiny("LSTM")
    config = {"hiddenEncoder": 16, "hiddenGar": 16, "arMode": "LSTM", "pathDB": "/somewhere"}
    weights = {k: torch.from_numpy(v) for k, v in state.items()}
    torch.save({"config": config, "weights": weights}, tmp_path / "tiny.pt")
    x = np.random.default_rng(1).uniform(-1, 1, (1, 1, 1600)).astype("float32")
    map_state(state, backbone)
    outputs = backbone.encode(x[:, 0])
    z, c = (to_numpy(outputs[k]) for k in ("z", "c"))
    np.savez(tmp_path / "good.npz", input=x, encoded_z=z, context_c=c)
    np.savez(tmp_path / "bad.npz", input=x, encoded_z=z, context_c=c + 1.0)

    result = convert_cpc_audio_checkpoint(
        tmp_path / "tiny.pt", tmp_path / "ok", reference_outputs=tmp_path / "good.npz"
    )
    assert max(result["max_relative_difference"].values()) <= 1e-6
    assert "/somewhere" not in (tmp_path / "ok" / "metadata.json").read_text()
    with pytest.raises(ValueError, match="does not reproduce the reference outputs"):
        convert_cpc_audio_checkpoint(
            tmp_path / "tiny.pt", tmp_path / "bad", reference_outputs=tmp_path / "bad.npz"
        )
    assert not (tmp_path / "bad").exists()


def test_unreadable_or_foreign_files_and_missing_torch_are_refused(tmp_path, monkeypatch):
    import argparse

    import torch

    torch.save({"config": argparse.Namespace(arMode="LSTM"), "weights": {}}, tmp_path / "ns.pt")
    with pytest.raises(ValueError, match=r"weights_only=True"):
        read_checkpoint(tmp_path / "ns.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"not a CPC_audio checkpoint.*\['model'\]"):
        read_checkpoint(tmp_path / "other.pt")
    torch.save({"gEncoder": {}}, tmp_path / "checkpoint_3.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint_args.json"):
        read_checkpoint(tmp_path)  # the folder: its highest checkpoint_<epoch>.pt
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.pt")

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"keras-cpc\[torch\]"):
        read_checkpoint(CASES["lstm_hub"][0])
