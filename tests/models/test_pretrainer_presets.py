"""Pretrainer presets: the backbone plus the pretraining heads, to continue pretraining."""

import keras
import numpy as np
import pytest

from keras_cpc.models import ImageClassifier, SimCLRPretrainer
from tests.fixtures.backbones import image_batch, tiny_image_backbone
from tests.helpers import set_deterministic_weights


def _numpy(variables):
    return {key: keras.ops.convert_to_numpy(v) for key, v in variables.items()}


def test_simclr_pretrainer_round_trips_with_its_heads(tmp_path):
    pretrainer = SimCLRPretrainer(tiny_image_backbone(seed=1), temperature=0.2, num_classes=3)
    set_deterministic_weights(pretrainer, seed=2)  # heads and BN statistics not at init
    saved = _numpy(pretrainer.head_variables())
    assert {"projection_head/dense_0/kernel", "probe/bias"} <= set(saved)
    assert not any(key.startswith(pretrainer.backbone.name) for key in saved)
    path = pretrainer.save_to_preset(tmp_path / "heads", name="tiny_heads")

    restored = SimCLRPretrainer.from_preset(path)
    assert (restored.temperature, restored.num_classes) == (0.2, 3)
    assert restored.projection_head.num_layers == pretrainer.projection_head.num_layers
    loaded = _numpy(restored.head_variables())
    assert loaded.keys() == saved.keys()
    for key, value in saved.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    images = image_batch(2, seed=3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored.backbone(images)),
        keras.ops.convert_to_numpy(pretrainer.backbone(images)),
        rtol=1e-6,
    )

    # A classifier gets a new head on the backbone; the pretrainer's task is not read.
    assert ImageClassifier.from_preset(path, num_classes=2).num_classes == 2
    with pytest.raises(ValueError, match="expected a subclass of ImageClassifier"):
        ImageClassifier.from_preset(path)


def test_backbone_only_preset_gets_new_heads(tmp_path):
    path = tiny_image_backbone(seed=1).save_to_preset(tmp_path / "backbone")
    pretrainer = SimCLRPretrainer.from_preset(path, temperature=0.3)
    assert pretrainer.temperature == 0.3 and pretrainer.projection_head.num_layers == 2
    with pytest.raises(TypeError, match="received `task`"):
        pretrainer.save_to_preset(tmp_path / "again", task=pretrainer)
