"""keras_cpc.evaluation.features: embeddings of images, clips and files; the MFCC baseline."""

import keras
import numpy as np
import pytest

from keras_cpc.evaluation import audio_features, file_features, image_features, mfcc_features
from tests.fixtures.backbones import (
    audio_batch,
    image_batch,
    tiny_audio_backbone,
    tiny_image_backbone,
)


def test_image_features_are_the_pooled_embeddings():
    backbone = tiny_image_backbone(seed=1)
    images = image_batch(5, seed=2)
    features = image_features(backbone, images, batch_size=2)
    assert features.shape == (5, backbone.output_dim) and features.dtype == np.float32
    expected = keras.ops.convert_to_numpy(backbone(images, training=False))
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_audio_features_keep_the_clip_order_whatever_the_lengths():
    backbone = tiny_audio_backbone(seed=1)
    clips = [audio_batch(1, samples=n, seed=n)[0] for n in (800, 400, 1200)]
    together = audio_features(backbone, clips, batch_size=2)
    alone = np.concatenate([audio_features(backbone, [clip], batch_size=1) for clip in clips])
    assert together.shape == (3, backbone.output_dim)
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def test_mfcc_features_are_mean_and_std_of_13_coefficients():
    clips = [audio_batch(1, samples=n, seed=0)[0] for n in (800, 1600)]
    features = mfcc_features(clips, 8000)
    assert features.shape == (2, 26) and np.isfinite(features).all()


def test_file_features_skip_an_empty_jpeg_with_a_warning_naming_it(tmp_path):
    backbone = tiny_image_backbone(seed=1)
    images = image_batch(3, seed=4)
    files = []
    for i, image in enumerate(images):
        keras.utils.save_img(tmp_path / f"img_{i}.png", image, scale=False)
        files.append(tmp_path / f"img_{i}.png")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    files.insert(1, empty)
    with pytest.warns(UserWarning, match="empty.jpg"):
        features, kept = file_features(backbone, files, batch_size=4, progress=False)
    assert kept == [f for f in files if f != empty]
    expected = image_features(backbone, images)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_file_features_refuse_when_nothing_is_readable(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="none of the 1 given can"):
        file_features(tiny_image_backbone(), [tmp_path / "a.jpg"], progress=False)
    with pytest.raises(ValueError, match=r"batch size >= 1 \(or None.*received 0"):
        file_features(tiny_image_backbone(), [tmp_path / "a.jpg"], batch_size=0)


def test_audio_normalization_follows_the_preset_record(tmp_path):
    # Converted CPC_audio weights take samples as read (recorded None); the FSDD preset was
    # trained on peak-normalised clips; a preset without a record gets the package's "peak".
    from keras_cpc.evaluation.features import audio_normalization
    from keras_cpc.models import CPCBackbone
    from tests.fixtures.backbones import tiny_audio_backbone

    backbone = tiny_audio_backbone()
    raw = backbone.save_to_preset(
        tmp_path / "raw", metadata={"preprocessing": {"normalization": None}}
    )
    plain = backbone.save_to_preset(tmp_path / "plain")
    assert audio_normalization(CPCBackbone.from_preset(raw)) is None
    assert audio_normalization(CPCBackbone.from_preset(plain)) == "peak"
    assert audio_normalization(backbone) == "peak"


def test_batch_size_none_is_the_backends_default_and_below_one_is_refused():
    from keras_cpc.evaluation.features import (
        DEFAULT_BATCH_SIZES,
        FALLBACK_BATCH_SIZES,
        default_batch_size,
        resolve_batch_size,
    )

    backend = keras.backend.backend()
    assert default_batch_size("image") == DEFAULT_BATCH_SIZES[backend]["image"]
    assert resolve_batch_size(None, "audio") == DEFAULT_BATCH_SIZES[backend]["audio"]
    assert default_batch_size("image", "a_future_backend") == FALLBACK_BATCH_SIZES["image"]
    assert resolve_batch_size(np.int64(3), "image") == 3  # an explicit size wins
    for bad in (0, -1, 2.5, "8"):
        with pytest.raises(ValueError, match=r"batch size >= 1 \(or None.*received"):
            resolve_batch_size(bad, "image")
    with pytest.raises(ValueError, match=r"modality in \('image', 'audio'\); received 'video'"):
        default_batch_size("video")
    backbone = tiny_audio_backbone(seed=1)
    clips = [audio_batch(1, samples=800, seed=0)[0]]
    with pytest.raises(ValueError, match="received 0"):
        audio_features(backbone, clips, batch_size=0)
    # None: the default batch (larger than these 5 images), same features as batch 2.
    image_backbone, images = tiny_image_backbone(seed=1), image_batch(5, seed=2)
    np.testing.assert_allclose(
        image_features(image_backbone, images),
        image_features(image_backbone, images, batch_size=2),
        rtol=1e-5,
        atol=1e-6,
    )


def test_audio_features_of_a_bfloat16_model_are_float32():
    from keras_cpc.training import dtype_policy_scope

    reference = tiny_audio_backbone(seed=1)
    with dtype_policy_scope("mixed_bfloat16"):
        backbone = tiny_audio_backbone(seed=1)
    clips = [audio_batch(1, samples=n, seed=n)[0] for n in (800, 400)]
    features = audio_features(backbone, clips)
    expected = audio_features(reference, clips)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, expected, atol=2e-2 * np.abs(expected).max())
