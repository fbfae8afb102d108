"""The preset registry is filled from below by each model family's ``*_presets.py``."""

import keras
import pytest

import keras_cpc
from keras_cpc.models import Backbone, CPCBackbone, ResNetBackbone
from keras_cpc.models.cpc import cpc_presets
from keras_cpc.models.resnet import resnet_presets
from keras_cpc.presets import registry


@pytest.fixture
def scratch_registry(monkeypatch):
    """The registry as shipped, restored after the test (registration is global state)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return registry


def test_families_register_their_shipped_presets():
    registered = registry.registered_presets()
    for module, class_name in (
        (resnet_presets, "keras_cpc>ResNetBackbone"),
        (cpc_presets, "keras_cpc>CPCBackbone"),
    ):
        for name, entry in module.backbone_presets.items():
            assert registered[name] == {"metadata": entry["metadata"], "class_name": class_name}
    listing = keras_cpc.list_presets()
    assert set(cpc_presets.backbone_presets) <= set(CPCBackbone.presets)
    assert set(resnet_presets.backbone_presets) <= set(ResNetBackbone.presets)
    assert not set(cpc_presets.backbone_presets) & set(ResNetBackbone.presets)
    assert set(listing) == set(Backbone.presets)


def test_register_presets_lists_them_with_their_class(scratch_registry):
    scratch_registry.register_presets(
        {"toy_cpc": {"metadata": {"description": "Toy.", "params": 7, "path": "toy_cpc"}}},
        "keras_cpc>CPCBackbone",
    )
    info = keras_cpc.list_presets()["toy_cpc"]
    assert info == {
        "description": "Toy.",
        "params": 7,
        "path": "toy_cpc",
        "class_name": "keras_cpc>CPCBackbone",
        "directory": None,
    }
    assert "toy_cpc" in CPCBackbone.presets and "toy_cpc" not in ResNetBackbone.presets
    # Registering the same entry again (a module reload) changes nothing.
    scratch_registry.register_presets(
        {"toy_cpc": {"metadata": {"description": "Toy.", "params": 7, "path": "toy_cpc"}}},
        "keras_cpc>CPCBackbone",
    )
    with pytest.raises(FileNotFoundError, match="'toy_cpc' is registered, but its directory"):
        Backbone.from_preset("toy_cpc")


@pytest.mark.parametrize(
    "presets, class_name, message",
    [
        ({"a": {"metadata": {}}}, "CPCBackbone", "registered Keras name such as"),
        ({"a": {"metadata": {}}}, None, "registered Keras name such as"),
        (["a"], "keras_cpc>CPCBackbone", "must be a dict of name -> entry; received list"),
        ({"a": "text"}, "keras_cpc>CPCBackbone", "registered as .*received 'text'"),
        (
            {"a": {"metadata": {}, "class_name": "keras_cpc>ResNetBackbone"}},
            "keras_cpc>CPCBackbone",
            "registered for 'keras_cpc>CPCBackbone'; received an entry that names",
        ),
    ],
)
def test_register_presets_refuses_bad_entries(scratch_registry, presets, class_name, message):
    with pytest.raises(ValueError, match=message):
        scratch_registry.register_presets(presets, class_name)


def test_a_name_cannot_be_registered_twice_differently(scratch_registry):
    scratch_registry.register_presets({"toy": {"metadata": {}}}, "keras_cpc>CPCBackbone")
    with pytest.raises(ValueError, match="'toy' is already registered for 'keras_cpc>CPCBackbone'"):
        scratch_registry.register_presets({"toy": {"metadata": {}}}, "keras_cpc>ResNetBackbone")


def test_class_matches_uses_the_registered_object_table():
    assert registry.class_matches("keras_cpc>CPCBackbone", CPCBackbone)
    assert registry.class_matches("keras_cpc>CPCBackbone", Backbone)
    assert registry.class_matches("keras_cpc>CPCBackbone", keras.Model)
    assert not registry.class_matches("keras_cpc>CPCBackbone", ResNetBackbone)
    assert not registry.class_matches("keras_cpc>NoSuchClass", Backbone)
    assert not registry.class_matches(None, CPCBackbone)
    assert registry.class_matches(None, None)
