"""AudioClassifier: from_preset + fit, frozen backbone, masking and resampling of raw audio."""

import json

import keras
import numpy as np
import pytest

from keras_cpc import presets as preset_utils
from keras_cpc.models import AudioClassifier, ImageClassifier
from keras_cpc.models.audio_classifier import batch_waveforms
from tests.fixtures.backbones import AUDIO_RATE, audio_batch, numpy_weights, tiny_audio_backbone


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "audio_preset"
    return tiny_audio_backbone(seed=1).save_to_preset(path)


def test_fit_frozen_and_round_trip(preset, tmp_path):
    classifier = AudioClassifier.from_preset(preset, num_classes=2, freeze_backbone=True)
    classifier.compile(optimizer=keras.optimizers.SGD(0.1))
    waveforms = audio_batch(8, samples=800, seed=2)
    labels = np.arange(8) % 2
    before = numpy_weights(classifier.backbone)
    history = classifier.fit(waveforms, labels, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for a, b in zip(before, numpy_weights(classifier.backbone)):
        np.testing.assert_array_equal(a, b)
    path = classifier.save_to_preset(tmp_path / "audio_task")
    restored = AudioClassifier.from_preset(path)
    assert restored.freeze_backbone
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.predict(waveforms, verbose=0)),
        keras.ops.convert_to_numpy(classifier.predict(waveforms, verbose=0)),
    )


def test_fine_tuning_updates_backbone(preset):
    classifier = AudioClassifier.from_preset(preset, num_classes=2, freeze_backbone=False)
    classifier.compile(optimizer=keras.optimizers.SGD(0.5))
    before = numpy_weights(classifier.backbone)
    classifier.fit(audio_batch(8, samples=800), np.arange(8) % 2, batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, numpy_weights(classifier.backbone)))


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_padding_does_not_change_predictions(preset, pooling):
    classifier = AudioClassifier.from_preset(preset, num_classes=3, pooling=pooling)
    short, long = audio_batch(1, samples=400, seed=3)[0], audio_batch(1, samples=900, seed=4)[0]
    alone = classifier.predict(classifier.prepare([short], AUDIO_RATE), verbose=0)
    batched = classifier.predict(classifier.prepare([short, long], AUDIO_RATE), verbose=0)
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-5, atol=1e-6)


def test_prepare_resamples_to_backbone_rate(preset):
    classifier = AudioClassifier.from_preset(preset, num_classes=2)
    t = np.arange(16000) / 16000
    clip = np.sin(2 * np.pi * 440 * t).astype("float32")  # one second at 16 kHz
    inputs = classifier.prepare([clip, clip[:8000]], sample_rate=16000)
    assert inputs["waveform"].shape == (2, AUDIO_RATE)
    assert inputs["padding_mask"][1].sum() == AUDIO_RATE // 2
    assert inputs["waveform"].dtype == np.float32


def test_prepare_rejects_stereo():
    with pytest.raises(
        ValueError, match=r"mono clips of shape \(samples,\); received .*\(100, 2\)"
    ):
        batch_waveforms([np.zeros((100, 2))], AUDIO_RATE, AUDIO_RATE)


def test_head_weights_of_wrong_shape_are_refused(preset, tmp_path):
    three = AudioClassifier.from_preset(preset, num_classes=3).save_to_preset(tmp_path / "a")
    five = AudioClassifier.from_preset(preset, num_classes=5).save_to_preset(tmp_path / "b")
    (three / "task.weights.h5").write_bytes((five / "task.weights.h5").read_bytes())
    metadata = json.loads((three / "metadata.json").read_text())
    metadata["files"]["task.weights.h5"] = preset_utils.sha256_of(three / "task.weights.h5")
    (three / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=r"expected .*\(4, 3\).* received .*\(4, 5\)"):
        AudioClassifier.from_preset(three)


def test_task_preset_of_another_task_class_is_refused(preset, tmp_path):
    path = AudioClassifier.from_preset(preset, num_classes=2).save_to_preset(tmp_path / "t")
    with pytest.raises(ValueError, match="expected a subclass of ImageClassifier"):
        ImageClassifier.from_preset(path)


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
        AudioClassifier(tiny_audio_backbone(), **kwargs)


def test_prepare_scales_int16_pcm():
    clip = np.array([0, 16384, -32768, 32767], "int16")
    batch = batch_waveforms([clip], AUDIO_RATE, AUDIO_RATE)
    np.testing.assert_allclose(batch["waveform"][0], clip / 32768.0, rtol=1e-6)
