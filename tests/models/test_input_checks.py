"""Bad inputs to the backbones and tasks: clear errors, the same on every backend, and the
model still predicts correctly afterwards (a failed check inside a traced predict step would
leave a JAX model unusable)."""

import keras
import numpy as np
import pytest

from keras_cpc.models import AudioClassifier, CPCBackbone, ImageClassifier, ResNetBackbone
from tests.fixtures.backbones import (
    IMAGE_SIZE,
    audio_batch,
    image_batch,
    tiny_audio_backbone,
    tiny_image_backbone,
)

BAD_AUDIO = [
    (np.full((2, 400), np.nan, "float32"), r"CPCBackbone expects finite audio samples; received"),
    (np.zeros((2, 400), "int64"), r"expects float audio samples .* int16 / int32 PCM.*int64"),
    (np.zeros((2, 3), "float32"), r"at least \d+ samples .*received 3 samples"),
    (np.zeros((400,), "float32"), r"shape \(batch, samples\).*received rank 1"),
]
BAD_IMAGES = [
    (image_batch(2) / 255.0, r"expects pixel values in \[0, 255\].*received float images"),
    (image_batch(1)[0], r"received rank 3 with shape \(8, 8, 3\). Add a batch axis"),
    (image_batch(2)[..., :1], r"shape \(batch, 8, 8, 3\) \(channels 3\); received channels 1"),
    (np.zeros((2, 16, 16, 3), "uint8"), r"\(height 8\); received height 16"),
    (np.full((2, IMAGE_SIZE, IMAGE_SIZE, 3), np.inf, "float32"), "expects finite pixel values"),
]


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("entry", ["predict", "call", "encode"])
def test_bad_audio_is_refused_and_the_model_still_works(entry):
    backbone = tiny_audio_backbone()
    good = audio_batch(2, samples=400)
    expected = backbone.predict(good, verbose=0)
    run = {
        "predict": lambda x: backbone.predict(x, verbose=0),
        "call": backbone,
        "encode": backbone.encode,
    }[entry]
    for bad, message in BAD_AUDIO:
        with pytest.raises(ValueError, match=message):
            run(bad)
    np.testing.assert_allclose(backbone.predict(good, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(_np(backbone(good)), expected, rtol=1e-5, atol=1e-6)


def test_int16_pcm_is_scaled_like_float():
    backbone = tiny_audio_backbone()
    clip = audio_batch(2, samples=400)
    pcm = np.round(clip * 32768).astype("int16")
    expected = backbone.predict(pcm.astype("float32") / 32768, verbose=0)
    np.testing.assert_allclose(backbone.predict(pcm, verbose=0), expected, rtol=1e-5, atol=1e-6)
    masked = {"waveform": pcm, "padding_mask": np.ones(pcm.shape, bool)}
    np.testing.assert_allclose(_np(backbone(masked)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("entry", ["predict", "call", "encode"])
def test_audio_at_the_wrong_rate_is_refused_and_the_model_still_works(entry):
    # A raw array carries no rate: the caller states it, and a mismatch is refused (a 44.1 kHz
    # clip given to an 8 kHz preset would otherwise give features at cosine 0.6 to the right ones).
    backbone = tiny_audio_backbone()
    classifier = AudioClassifier(backbone, num_classes=2)
    good = audio_batch(2, samples=400)
    expected = backbone.predict(good, verbose=0)
    rate = backbone.sample_rate
    for model in (backbone, classifier) if entry != "encode" else (backbone,):
        run = {"predict": model.predict, "call": model, "encode": getattr(model, "encode", None)}
        message = rf"expects audio at {rate} Hz; received audio at 44100 Hz. Resample"
        with pytest.raises(ValueError, match=message):
            run[entry](good, sample_rate=44100)
        # The right rate is accepted and changes nothing.
        np.testing.assert_allclose(
            _np(model.predict(good, sample_rate=rate, verbose=0)),
            _np(model.predict(good, verbose=0)),
            rtol=1e-6,
        )
    with pytest.raises(ValueError, match="ImageClassifier takes images, not audio"):
        ImageClassifier(tiny_image_backbone(), num_classes=2).predict(
            image_batch(2), sample_rate=8000
        )
    np.testing.assert_allclose(backbone.predict(good, verbose=0), expected, rtol=1e-6)


@pytest.mark.parametrize("entry", ["predict", "call"])
def test_bad_images_are_refused_and_the_model_still_works(entry):
    backbone = tiny_image_backbone()
    classifier = ImageClassifier(backbone, num_classes=2)
    good = image_batch(2)
    expected = backbone.predict(good, verbose=0)
    expected_logits = classifier.predict(good, verbose=0)
    for model in (backbone, classifier):
        run = model.predict if entry == "predict" else model
        for bad, message in BAD_IMAGES:
            with pytest.raises(ValueError, match=message):
                run(bad)
    np.testing.assert_allclose(backbone.predict(good, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(classifier.predict(good, verbose=0), expected_logits, rtol=1e-6)
    # Float images in [0, 255] are fine: the [0, 1] check is about the range, not the dtype.
    np.testing.assert_allclose(
        backbone.predict(good.astype("float32"), verbose=0), expected, rtol=1e-5, atol=1e-6
    )


def test_a_task_refuses_a_backbone_of_the_wrong_kind(tmp_path):
    audio, image = tiny_audio_backbone(), tiny_image_backbone()
    assert (CPCBackbone.modality, ResNetBackbone.modality) == ("audio", "image")
    with pytest.raises(ValueError, match="expected an image backbone.*received CPCBackbone"):
        ImageClassifier(backbone=audio, num_classes=10)
    with pytest.raises(ValueError, match="expected an audio backbone.*received ResNetBackbone"):
        AudioClassifier(backbone=image, num_classes=10)
    # from_preset builds through __init__, so an audio preset is refused too.
    preset = audio.save_to_preset(tmp_path / "audio")
    with pytest.raises(ValueError, match="expected an image backbone.*received CPCBackbone"):
        ImageClassifier.from_preset(preset, num_classes=10)


def test_numpy_integers_are_accepted_as_ints():
    classifier = AudioClassifier(tiny_audio_backbone(), num_classes=np.int64(3))
    assert type(classifier.num_classes) is int and classifier.num_classes == 3
    with pytest.raises(ValueError, match="`num_classes` must be an int >= 1; received True"):
        AudioClassifier(tiny_audio_backbone(), num_classes=True)
