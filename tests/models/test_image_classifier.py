"""ImageClassifier: from_preset + fit (numpy, then tf.data or a PyDataset), probe, presets."""

import keras
import numpy as np
import pytest

from keras_cpc.models import Backbone, ImageClassifier
from tests.fixtures.backbones import image_batch, numpy_weights, tiny_image_backbone
from tests.helpers import set_deterministic_weights


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    path = tmp_path_factory.mktemp("image") / "backbone_preset"
    return tiny_image_backbone(seed=1).save_to_preset(path)


def _data(n=16):
    # Bright images are class 1, dark ones class 0.
    labels = (np.arange(n) % 2).astype("int32")
    images = image_batch(n, seed=5) // 2 + 128 * labels[:, None, None, None].astype("uint8")
    return images, labels


class _Batches(keras.utils.PyDataset):
    """The batches of (images, labels) as a Keras PyDataset (any backend, no TensorFlow)."""

    def __init__(self, images, labels, batch_size):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size

    def __len__(self):
        return len(self.images) // self.batch_size

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.images[rows], self.labels[rows]


def _fit_numpy_then_tf_data(classifier):
    images, labels = _data(8)
    first = classifier.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    if keras.backend.backend() == "tensorflow":
        # tf.data only where TensorFlow is the backend: other backends never import it here.
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    else:
        dataset = _Batches(images, labels, batch_size=8)
    second = classifier.fit(dataset, epochs=1, verbose=0)
    return first.history["loss"] + second.history["loss"]


def test_fine_tune_with_fit_changes_backbone(preset):
    classifier = ImageClassifier.from_preset(preset, num_classes=3, freeze_backbone=False)
    classifier.compile(optimizer=keras.optimizers.SGD(0.05))
    before = numpy_weights(classifier.backbone)
    losses = _fit_numpy_then_tf_data(classifier)
    assert np.isfinite(losses).all()
    after = numpy_weights(classifier.backbone)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert classifier.predict(_data(8)[0], verbose=0).shape == (8, 3)


def test_freeze_backbone_leaves_backbone_weights_unchanged(preset):
    classifier = ImageClassifier.from_preset(preset, num_classes=2, freeze_backbone=True)
    classifier.compile(optimizer=keras.optimizers.Adam(0.05))
    backbone_before = numpy_weights(classifier.backbone)
    head_before = numpy_weights(classifier.predictions)
    losses = _fit_numpy_then_tf_data(classifier)
    assert np.isfinite(losses).all()
    # Every backbone variable, batch-norm moving statistics included, stays as loaded.
    for a, b in zip(backbone_before, numpy_weights(classifier.backbone)):
        np.testing.assert_array_equal(a, b)
    head_after = numpy_weights(classifier.predictions)
    assert all(not np.array_equal(a, b) for a, b in zip(head_before, head_after))
    assert len(classifier.trainable_weights) == 2  # Dense kernel and bias only


def test_task_preset_round_trip_includes_head(preset, tmp_path):
    classifier = ImageClassifier.from_preset(preset, num_classes=3, pooling="max", dropout=0.2)
    set_deterministic_weights(classifier.predictions, seed=7, scale=1.0)
    path = classifier.save_to_preset(tmp_path / "task_preset")
    assert (path / "task.json").is_file() and (path / "task.weights.h5").is_file()
    restored = ImageClassifier.from_preset(path)
    assert (restored.pooling, restored.num_classes, restored.dropout) == ("max", 3, 0.2)
    images = _data()[0]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.predict(images, verbose=0)),
        keras.ops.convert_to_numpy(classifier.predict(images, verbose=0)),
    )
    # The backbone alone loads from the same directory.
    for a, b in zip(numpy_weights(Backbone.from_preset(path)), numpy_weights(classifier.backbone)):
        np.testing.assert_array_equal(a, b)
    # A new head on the same preset starts fresh.
    fresh = ImageClassifier.from_preset(path, num_classes=5)
    assert fresh.predictions.kernel.shape == (classifier.backbone.output_dim, 5)


def test_backbone_only_preset_needs_num_classes(preset):
    with pytest.raises(ValueError, match="pass `num_classes`.*received num_classes=None"):
        ImageClassifier.from_preset(preset)
