"""Backbone.from_preset / save_to_preset: round trips, listing, integrity and bad input.

Integrity and bad-input cases use a small CPC preset (cheap to build); round trips cover both
backbones.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest

import keras_cpc
from keras_cpc import presets as preset_utils
from keras_cpc.models import Backbone, CPCBackbone, ResNetBackbone
from tests.fixtures.backbones import (
    audio_batch,
    image_batch,
    tiny_audio_backbone,
    tiny_image_backbone,
)

KINDS = {"image": (tiny_image_backbone, image_batch), "audio": (tiny_audio_backbone, audio_batch)}


def _predict(model, x):
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0))


def _assert_same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y))


@pytest.fixture(scope="module")
def saved_audio_preset(tmp_path_factory):
    """A small CPC preset saved once; tests that damage it work on a copy (`saved`)."""
    path = tmp_path_factory.mktemp("saved") / "tiny_audio"
    tiny_audio_backbone(seed=1).save_to_preset(path, metadata={"description": "Tiny test preset."})
    return path


@pytest.fixture
def saved(saved_audio_preset, tmp_path):
    """(backbone, preset directory) for a fresh copy of the saved CPC preset."""
    path = tmp_path / "tiny_audio"
    shutil.copytree(saved_audio_preset, path)
    return tiny_audio_backbone(seed=1), path


@pytest.fixture
def presets_folder(saved_audio_preset, tmp_path, monkeypatch):
    """A presets search folder holding one preset, found by name."""
    folder = tmp_path / "shipped"
    shutil.copytree(saved_audio_preset, folder / "tiny_shipped")
    monkeypatch.setenv(preset_utils.PRESETS_PATH_ENV, str(folder))
    return folder


def _rewrite_hash(path, filename):
    """Make metadata.json agree with a deliberately changed file (tests the next check)."""
    metadata = json.loads((path / "metadata.json").read_text())
    metadata["files"][filename] = preset_utils.sha256_of(path / filename)
    (path / "metadata.json").write_text(json.dumps(metadata))


# ---- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_round_trip_reproduces_outputs_exactly(kind, tmp_path):
    make, batch = KINDS[kind]
    backbone = make(seed=3)
    path = backbone.save_to_preset(tmp_path / kind)
    x = batch()
    for loader, preset in ((type(backbone), str(path)), (Backbone, path)):
        restored = loader.from_preset(preset)
        assert type(restored) is type(backbone)
        assert restored.get_config() == backbone.get_config()
        _assert_same_weights(restored, backbone)
    np.testing.assert_array_equal(_predict(restored, x), _predict(backbone, x))


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_from_preset_dtype_policy_reaches_every_layer(kind, tmp_path):
    make, batch = KINDS[kind]
    backbone = make(seed=3)
    path = backbone.save_to_preset(tmp_path / kind)
    mixed = Backbone.from_preset(path, dtype="mixed_bfloat16")
    compute = {layer.dtype_policy.compute_dtype for layer in mixed._flatten_layers()}
    assert compute == {"bfloat16"}, compute
    assert {v.dtype for v in mixed.weights} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    x = batch()
    np.testing.assert_allclose(
        np.float32(_predict(mixed, x)), _predict(backbone, x), rtol=0.1, atol=0.1
    )


def test_preset_layout_and_metadata(saved):
    backbone, path = saved
    names = sorted(p.name for p in path.iterdir())
    assert names == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["keras_version"] == keras.__version__
    assert metadata["keras_cpc_version"] == keras_cpc.__version__
    assert metadata["parameter_count"] == backbone.count_params()
    assert metadata["input_spec"] == {"modality": "audio", "sample_rate": 8000, "channels": 1}
    assert metadata["description"] == "Tiny test preset."
    for name in ("README.md", "config.json", "model.weights.h5"):
        assert metadata["files"][name] == preset_utils.sha256_of(path / name)
    assert "from_preset" in (path / "README.md").read_text()


def test_load_weights_false_builds_fresh_weights_without_reading_weights(saved):
    backbone, path = saved
    os.remove(path / "model.weights.h5")  # proves the file is never opened
    fresh = Backbone.from_preset(path, load_weights=False)
    assert type(fresh) is type(backbone)
    assert fresh.get_config() == backbone.get_config()
    assert [tuple(w.shape) for w in fresh.weights] == [tuple(w.shape) for w in backbone.weights]
    differs = [
        not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        for a, b in zip(fresh.weights, backbone.weights)
    ]
    assert any(differs)


def test_named_preset_listing_and_presets_attribute(presets_folder):
    listing = keras_cpc.list_presets()
    assert listing["tiny_shipped"]["description"] == "Tiny test preset."
    assert listing["tiny_shipped"]["directory"] == str(presets_folder / "tiny_shipped")
    assert listing["tiny_shipped"]["class_name"] == "keras_cpc>CPCBackbone"
    assert "tiny_shipped" in CPCBackbone.presets
    assert "tiny_shipped" in Backbone.presets
    assert "tiny_shipped" not in ResNetBackbone.presets
    assert isinstance(Backbone.from_preset("tiny_shipped"), CPCBackbone)


# ---- integrity and bad input --------------------------------------------------------------


def test_unknown_name_lists_available_presets(presets_folder):
    with pytest.raises(ValueError, match="Unknown preset 'no_such_preset'.*'tiny_shipped'"):
        Backbone.from_preset("no_such_preset")


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected a preset directory.*does not exist"):
        Backbone.from_preset(tmp_path / "nothing_here")


@pytest.mark.parametrize(
    "name, message",
    [
        ("config.json", "Expected config.json .* received a directory"),
        ("model.weights.h5", "Expected model.weights.h5 .* received"),
        ("metadata.json", "Expected metadata.json"),
    ],
)
def test_missing_file(saved, name, message):
    _, path = saved
    os.remove(path / name)
    with pytest.raises(FileNotFoundError, match=message):
        Backbone.from_preset(path)


def test_truncated_weights_fail_sha256(saved):
    _, path = saved
    data = (path / "model.weights.h5").read_bytes()
    (path / "model.weights.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or altered: expected sha256 .* received"):
        Backbone.from_preset(path)


def test_altered_weights_fail_sha256(saved):
    _, path = saved
    data = bytearray((path / "model.weights.h5").read_bytes())
    data[-100] ^= 0xFF
    (path / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="model.weights.h5 .* truncated or altered"):
        Backbone.from_preset(path)


def test_altered_config_fails_sha256(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["config"]["context_dim"] = 64
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json .* truncated or altered"):
        Backbone.from_preset(path)


def test_weights_of_wrong_shapes(saved, tmp_path):
    _, path = saved
    wider = tiny_audio_backbone(width=6).save_to_preset(tmp_path / "wider")
    (path / "model.weights.h5").write_bytes((wider / "model.weights.h5").read_bytes())
    _rewrite_hash(path, "model.weights.h5")
    with pytest.raises(
        ValueError, match=r"do not fit .*expected \(4, 1, 4\), received \(4, 1, 6\)"
    ):
        Backbone.from_preset(path)


def _foreign_top_level(config):
    return {
        "module": "builtins",
        "class_name": "eval",
        "config": {"source": "print('pwned')"},
        "registered_name": "builtins>eval",
    }


def _foreign_dtype(config):
    config["config"]["dtype"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "true"},
        "registered_name": "os>system",
    }
    return config


@pytest.mark.parametrize(
    "tamper, message",
    [
        (_foreign_top_level, "must name a registered keras_cpc class.*'builtins>eval'"),
        (_foreign_dtype, "only reference keras / keras_cpc objects.*module 'os'"),
    ],
)
def test_config_naming_a_foreign_object_is_refused(saved, tamper, message):
    _, path = saved
    config = tamper(json.loads((path / "config.json").read_text()))
    (path / "config.json").write_text(json.dumps(config))
    _rewrite_hash(path, "config.json")
    with pytest.raises(ValueError, match=message):
        Backbone.from_preset(path)


def test_preset_of_another_backbone_class_is_refused(saved):
    _, path = saved
    with pytest.raises(ValueError, match="expected a subclass of ResNetBackbone, received CPC"):
        ResNetBackbone.from_preset(path)


@pytest.mark.parametrize("name", ["../tiny_shipped", "tiny_shipped/../../etc", ".."])
def test_dotdot_name_escaping_presets_folder(presets_folder, name):
    with pytest.raises(ValueError, match="escapes"):
        Backbone.from_preset(name)


def test_symlinked_name_escaping_presets_folder(presets_folder, saved):
    _, outside = saved
    os.symlink(outside, presets_folder / "linked")
    with pytest.raises(ValueError, match="must resolve inside its presets folder"):
        Backbone.from_preset("linked")


def test_save_into_existing_directory_refuses_without_overwrite(saved):
    _, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    other = tiny_audio_backbone(seed=9)
    with pytest.raises(FileExistsError, match="pass overwrite=True") as info:
        other.save_to_preset(path)
    assert isinstance(info.value, ValueError)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    other.save_to_preset(path, overwrite=True)
    _assert_same_weights(Backbone.from_preset(path), other)


def test_crash_mid_save_leaves_old_preset_intact(saved, monkeypatch):
    backbone, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    other = tiny_audio_backbone(seed=9)

    def crash(filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"half")
        raise RuntimeError("simulated crash while writing weights")

    monkeypatch.setattr(other, "save_weights", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        other.save_to_preset(path, overwrite=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp leftovers
    _assert_same_weights(Backbone.from_preset(path), backbone)


# ---- sharded weights ------------------------------------------------------------------------


@pytest.fixture
def sharded(tmp_path):
    """(backbone, preset directory, shard size in bytes) for weights split into several shards."""
    backbone = tiny_image_backbone(seed=5)
    largest = max(keras.ops.convert_to_numpy(w).nbytes for w in backbone.weights)
    shard_bytes = 3 * largest  # a few variables per shard, several shards in all
    path = backbone.save_to_preset(tmp_path / "sharded", max_shard_size=shard_bytes / 1024**3)
    return backbone, path, shard_bytes


def _stored_bytes(h5_path):
    import h5py

    sizes = []
    with h5py.File(h5_path, "r") as handle:
        handle.visititems(
            lambda _, item: sizes.append(item.nbytes) if isinstance(item, h5py.Dataset) else None
        )
    return sum(sizes)


def test_large_weights_are_sharded_and_round_trip_exactly(sharded):
    backbone, path, shard_bytes = sharded
    names = sorted(p.name for p in path.iterdir())
    shards = [name for name in names if name.startswith("model_")]
    assert "model.weights.h5" not in names and "model.weights.json" in names
    assert len(shards) >= 2
    assert preset_utils.shard_names(path / "model.weights.json") == shards
    metadata = json.loads((path / "metadata.json").read_text())
    for name in shards + ["model.weights.json"]:
        assert metadata["files"][name] == preset_utils.sha256_of(path / name)
    # The limit counts the variables' bytes (HDF5 adds a fixed overhead per dataset).
    for name in shards:
        assert 0 < _stored_bytes(path / name) <= shard_bytes
    restored = Backbone.from_preset(path)
    _assert_same_weights(restored, backbone)
    x = image_batch()
    np.testing.assert_array_equal(_predict(restored, x), _predict(backbone, x))


def test_weights_under_the_shard_size_stay_one_file(tmp_path):
    path = tiny_image_backbone().save_to_preset(tmp_path / "one")
    assert (path / "model.weights.h5").is_file()
    assert not list(path.glob("model_*"))


def test_altered_shard_fails_sha256(sharded):
    _, path, _ = sharded
    shard = path / "model_00001.weights.h5"
    data = bytearray(shard.read_bytes())
    data[-100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="model_00001.weights.h5 .* truncated or altered"):
        Backbone.from_preset(path)


def test_missing_shard(sharded):
    _, path, _ = sharded
    os.remove(path / "model_00001.weights.h5")
    with pytest.raises(FileNotFoundError, match="Expected model_00001.weights.h5 in preset"):
        Backbone.from_preset(path)


def test_shard_index_pointing_outside_the_preset_is_refused(sharded):
    _, path, _ = sharded
    index = json.loads((path / "model.weights.json").read_text())
    first = next(iter(index["weight_map"]))
    index["weight_map"][first] = ["../elsewhere.weights.h5"]
    (path / "model.weights.json").write_text(json.dumps(index))
    _rewrite_hash(path, "model.weights.json")
    with pytest.raises(ValueError, match="must name shard files in its own directory"):
        Backbone.from_preset(path)
