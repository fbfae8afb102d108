"""Backbone.from_preset / save_to_preset: round trips, listing, integrity and bad input."""

import json
import os

import keras
import numpy as np
import pytest

import keras_cpc
from keras_cpc import presets as preset_utils
from keras_cpc.models import Backbone
from tests.fixtures.backbones import (
    audio_batch,
    image_batch,
    tiny_audio_backbone,
    tiny_image_backbone,
)


def _predict(model, x):
    return keras.ops.convert_to_numpy(model.predict(x, verbose=0))


@pytest.fixture
def saved(tmp_path):
    backbone = tiny_image_backbone(seed=1)
    path = backbone.save_to_preset(tmp_path / "tiny_image")
    return backbone, path


@pytest.fixture
def presets_folder(tmp_path, monkeypatch):
    """A presets search folder holding one preset, found by name."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    tiny_image_backbone(seed=2).save_to_preset(
        folder / "tiny_shipped", metadata={"description": "Tiny test preset."}
    )
    monkeypatch.setenv(preset_utils.PRESETS_PATH_ENV, str(folder))
    return folder


def _rewrite_hash(path, filename):
    """Make metadata.json agree with a deliberately changed file (tests the next check)."""
    metadata = json.loads((path / "metadata.json").read_text())
    metadata["files"][filename] = preset_utils.sha256_of(path / filename)
    (path / "metadata.json").write_text(json.dumps(metadata))


# ---- round trips ------------------------------------------------------------------------


def test_round_trip_reproduces_outputs_exactly(saved):
    backbone, path = saved
    x = image_batch()
    for loader in (Backbone, type(backbone)):
        restored = loader.from_preset(path)
        assert type(restored) is type(backbone)
        np.testing.assert_array_equal(_predict(restored, x), _predict(backbone, x))
        for a, b in zip(restored.weights, backbone.weights):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
            )


def test_round_trip_audio_backbone(tmp_path):
    backbone = tiny_audio_backbone(seed=3)
    path = backbone.save_to_preset(tmp_path / "tiny_audio")
    restored = Backbone.from_preset(str(path))
    x = audio_batch()
    np.testing.assert_array_equal(_predict(restored, x), _predict(backbone, x))
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["input_spec"]["sample_rate"] == backbone.sample_rate


def test_preset_layout_and_metadata(saved):
    backbone, path = saved
    names = sorted(p.name for p in path.iterdir())
    assert names == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["keras_version"] == keras.__version__
    assert metadata["keras_cpc_version"] == keras_cpc.__version__
    assert metadata["parameter_count"] == backbone.count_params()
    assert metadata["input_spec"]["image_shape"] == [8, 8, 3]
    for name in ("README.md", "config.json", "model.weights.h5"):
        assert metadata["files"][name] == preset_utils.sha256_of(path / name)
    assert "from_preset" in (path / "README.md").read_text()


def test_load_weights_false_builds_fresh_weights_without_reading_weights(saved):
    backbone, path = saved
    os.remove(path / "model.weights.h5")  # proves the file is never opened
    fresh = Backbone.from_preset(path, load_weights=False)
    assert fresh.get_config() | {"name": None} == backbone.get_config() | {"name": None}
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
    backbone_cls = type(tiny_image_backbone())
    assert "tiny_shipped" in backbone_cls.presets
    assert "tiny_shipped" in Backbone.presets
    assert "tiny_shipped" not in type(tiny_audio_backbone()).presets
    loaded = Backbone.from_preset("tiny_shipped")
    assert isinstance(loaded, backbone_cls)


# ---- integrity and bad input --------------------------------------------------------------


def test_unknown_name_lists_available_presets(presets_folder):
    with pytest.raises(ValueError, match="Unknown preset 'no_such_preset'.*'tiny_shipped'"):
        Backbone.from_preset("no_such_preset")


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Backbone.from_preset(tmp_path / "nothing_here")


def test_missing_config(saved):
    _, path = saved
    os.remove(path / "config.json")
    with pytest.raises(FileNotFoundError, match="Expected config.json"):
        Backbone.from_preset(path)


def test_missing_weights(saved):
    _, path = saved
    os.remove(path / "model.weights.h5")
    with pytest.raises(FileNotFoundError, match="Expected model.weights.h5"):
        Backbone.from_preset(path)


def test_missing_metadata(saved):
    _, path = saved
    os.remove(path / "metadata.json")
    with pytest.raises(FileNotFoundError, match="Expected metadata.json"):
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
    with pytest.raises(ValueError, match="truncated or altered"):
        Backbone.from_preset(path)


def test_altered_config_fails_sha256(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["config"]["name"] = "renamed"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json .* truncated or altered"):
        Backbone.from_preset(path)


def test_weights_of_wrong_shapes(saved, tmp_path):
    _, path = saved
    wider = tiny_image_backbone(width=6).save_to_preset(tmp_path / "wider")
    (path / "model.weights.h5").write_bytes((wider / "model.weights.h5").read_bytes())
    _rewrite_hash(path, "model.weights.h5")
    with pytest.raises(
        ValueError, match=r"do not fit .*expected \(3, 3, 3, 4\), received \(3, 3, 3, 6\)"
    ):
        Backbone.from_preset(path)


def test_config_naming_a_foreign_class_is_refused(saved):
    _, path = saved
    config = {
        "module": "builtins",
        "class_name": "eval",
        "config": {"source": "print('pwned')"},
        "registered_name": "builtins>eval",
    }
    (path / "config.json").write_text(json.dumps(config))
    _rewrite_hash(path, "config.json")
    with pytest.raises(ValueError, match="must name a registered keras_cpc class.*'builtins>eval'"):
        Backbone.from_preset(path)


def test_config_with_nested_foreign_object_is_refused(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["config"]["dtype"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "true"},
        "registered_name": "os>system",
    }
    (path / "config.json").write_text(json.dumps(config))
    _rewrite_hash(path, "config.json")
    with pytest.raises(ValueError, match="only reference keras / keras_cpc objects.*module 'os'"):
        Backbone.from_preset(path)


def test_preset_of_another_backbone_class_is_refused(saved):
    _, path = saved
    audio_cls = type(tiny_audio_backbone())
    with pytest.raises(ValueError, match=f"expected a subclass of {audio_cls.__name__}"):
        audio_cls.from_preset(path)


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
    backbone, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(FileExistsError, match="pass overwrite=True") as info:
        tiny_image_backbone(seed=9).save_to_preset(path)
    assert isinstance(info.value, ValueError)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    other = tiny_image_backbone(seed=9)
    other.save_to_preset(path, overwrite=True)
    x = image_batch()
    np.testing.assert_array_equal(_predict(Backbone.from_preset(path), x), _predict(other, x))


def test_crash_mid_save_leaves_old_preset_intact(saved, monkeypatch):
    backbone, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    other = tiny_image_backbone(seed=9)

    def crash(filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"half")
        raise RuntimeError("simulated crash while writing weights")

    monkeypatch.setattr(other, "save_weights", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        other.save_to_preset(path, overwrite=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp leftovers
    x = image_batch()
    np.testing.assert_array_equal(_predict(Backbone.from_preset(path), x), _predict(backbone, x))
