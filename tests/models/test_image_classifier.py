"""ImageClassifier: from_preset + fit (numpy and tf.data), linear probe, task presets."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cpc.models import Backbone, ImageClassifier
from tests.fixtures.backbones import image_batch, tiny_image_backbone


def _numpy_weights(model):
    return [keras.ops.convert_to_numpy(w).copy() for w in model.weights]


@pytest.fixture
def preset(tmp_path):
    return tiny_image_backbone(seed=1).save_to_preset(tmp_path / "backbone_preset")


def _data(n=16):
    # Bright images are class 1, dark ones class 0: separable by a probe on any backbone.
    labels = (np.arange(n) % 2).astype("int32")
    images = image_batch(n, seed=5) // 2 + 128 * labels[:, None, None, None].astype("uint8")
    return images, labels


@pytest.mark.parametrize("input_kind", ["numpy", "tf.data"])
def test_fine_tune_with_fit_changes_backbone(preset, input_kind):
    classifier = ImageClassifier.from_preset(preset, num_classes=3, freeze_backbone=False)
    classifier.compile(optimizer=keras.optimizers.SGD(0.1))
    before = _numpy_weights(classifier.backbone)
    images, labels = _data()
    if input_kind == "numpy":
        history = classifier.fit(images, labels, batch_size=8, epochs=2, verbose=0)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
        history = classifier.fit(dataset, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = _numpy_weights(classifier.backbone)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert classifier.predict(images, verbose=0).shape == (16, 3)


@pytest.mark.parametrize("input_kind", ["numpy", "tf.data"])
def test_freeze_backbone_leaves_backbone_weights_unchanged(preset, input_kind):
    classifier = ImageClassifier.from_preset(preset, num_classes=3, freeze_backbone=True)
    classifier.compile(optimizer=keras.optimizers.SGD(0.1))
    backbone_before = _numpy_weights(classifier.backbone)
    head_before = _numpy_weights(classifier.predictions)
    images, labels = _data()
    if input_kind == "numpy":
        classifier.fit(images, labels, batch_size=8, epochs=2, verbose=0)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
        classifier.fit(dataset, epochs=2, verbose=0)
    # All backbone variables, batch-norm moving statistics included, stay as loaded.
    for a, b in zip(backbone_before, _numpy_weights(classifier.backbone)):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(head_before, _numpy_weights(classifier.predictions))
    )
    assert len(classifier.trainable_weights) == 2  # Dense kernel and bias only


def test_linear_probe_learns_separable_labels(preset):
    classifier = ImageClassifier.from_preset(preset, num_classes=2, freeze_backbone=True)
    classifier.compile(optimizer=keras.optimizers.Adam(0.5))
    images, labels = _data(32)
    history = classifier.fit(images, labels, batch_size=32, epochs=25, verbose=0)
    assert history.history["loss"][-1] < 0.85 * history.history["loss"][0]
    assert max(history.history["accuracy"][-5:]) >= 0.9


def test_task_preset_round_trip_includes_head(preset, tmp_path):
    classifier = ImageClassifier.from_preset(preset, num_classes=3, pooling="max", dropout=0.2)
    classifier.compile()
    images, labels = _data()
    classifier.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    path = classifier.save_to_preset(tmp_path / "task_preset")
    assert (path / "task.json").is_file() and (path / "task.weights.h5").is_file()
    restored = ImageClassifier.from_preset(path)
    assert restored.pooling == "max" and restored.num_classes == 3
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.predict(images, verbose=0)),
        keras.ops.convert_to_numpy(classifier.predict(images, verbose=0)),
    )
    # The backbone alone loads from the same directory.
    backbone = Backbone.from_preset(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(backbone.predict(images, verbose=0)),
        keras.ops.convert_to_numpy(classifier.backbone.predict(images, verbose=0)),
    )
    # A new head on the same preset starts fresh.
    fresh = ImageClassifier.from_preset(path, num_classes=5)
    assert fresh.predict(images, verbose=0).shape == (16, 5)


def test_backbone_only_preset_needs_num_classes(preset):
    with pytest.raises(ValueError, match="pass `num_classes`.*received num_classes=None"):
        ImageClassifier.from_preset(preset)


def test_head_weights_of_wrong_shape_are_refused(preset, tmp_path):
    three = ImageClassifier.from_preset(preset, num_classes=3).save_to_preset(tmp_path / "a")
    five = ImageClassifier.from_preset(preset, num_classes=5).save_to_preset(tmp_path / "b")
    (three / "task.weights.h5").write_bytes((five / "task.weights.h5").read_bytes())
    import json

    from keras_cpc import presets as preset_utils

    metadata = json.loads((three / "metadata.json").read_text())
    metadata["files"]["task.weights.h5"] = preset_utils.sha256_of(three / "task.weights.h5")
    (three / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=r"expected .*\(4, 3\).* received .*\(4, 5\)"):
        ImageClassifier.from_preset(three)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes` must be an int >= 1; received 0"),
        ({"num_classes": 3, "pooling": "median"}, "`pooling` must be one of"),
        ({"num_classes": 3, "dropout": 1.5}, r"`dropout` must be in \[0, 1\); received 1.5"),
    ],
)
def test_bad_head_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageClassifier(tiny_image_backbone(), **kwargs)
