"""ImageFolder (bad files skipped, labels aligned), read_images errors, ImageBatches."""

import pickle

import numpy as np
import pytest
from PIL import Image

from keras_cpc.data import (
    ImageBatches,
    ImageFolder,
    image_preprocessing,
    load_digits_images,
    read_images,
)


def _save(path, value, fmt="JPEG", size=(8, 8)):
    Image.new("RGB", size, (value, 255 - value, 7)).save(path, fmt)


@pytest.fixture
def folder(tmp_path):
    """Two classes of good images, plus one bad file of each kind."""
    root = tmp_path / "train"
    for label, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _save(root / name / f"{i}.jpg", 40 * i + 100 * label)
    _save(root / "dog" / "3.png", 200, fmt="PNG", size=(12, 10))  # resized on take
    (root / "cat" / "empty.jpg").write_bytes(b"")
    (root / "cat" / "text.png").write_text("not an image")
    # Cut near the end: the header still opens, the pixel data is incomplete.
    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype="uint8")
    Image.fromarray(noise).save(root / "dog" / "cut.jpg")
    whole = (root / "dog" / "cut.jpg").read_bytes()
    (root / "dog" / "cut.jpg").write_bytes(whole[:-20])
    _save(root / "dog" / "cut.png", 5, fmt="PNG", size=(64, 64))
    whole = (root / "dog" / "cut.png").read_bytes()
    (root / "dog" / "cut.png").write_bytes(whole[:-30])
    return root


def test_unreadable_images_are_skipped_with_one_warning_naming_each(folder):
    with pytest.warns(UserWarning) as record:
        source = ImageFolder(folder, image_size=8)
    assert len(record) == 1
    message = str(record[0].message)
    for name in ("empty.jpg", "text.png", "cut.jpg", "cut.png"):
        assert name in message
    assert [p.name for p in source.files] == ["0.jpg", "1.jpg", "2.jpg", "0.jpg", "1.jpg"] + [
        "2.jpg",
        "3.png",
    ]
    assert source.labels.tolist() == [0, 0, 0, 1, 1, 1, 1] and source.classes == ["cat", "dog"]
    assert len(source) == 7 and len(source.skipped) == 4
    images = source.take(np.arange(len(source)))
    assert images.shape == (7, 8, 8, 3) and images.dtype == np.uint8
    # Each image still sits at its label: the red channel encodes 40 * i + 100 * label.
    np.testing.assert_allclose(images[:6, 4, 4, 0], [0, 40, 80, 100, 140, 180], atol=4)


def test_read_images_names_the_bad_file(folder):
    with pytest.raises(ValueError, match=r"received .*empty\.jpg, which cannot be decoded"):
        read_images([folder / "cat" / "0.jpg", folder / "cat" / "empty.jpg"])
    with pytest.raises(ValueError, match=r"cut\.jpg, which cannot be decoded"):
        read_images([folder / "dog" / "cut.jpg"])
    assert read_images([], image_size=(4, 6)).shape == (0, 4, 6, 3)


def test_preprocessing_metadata_and_digits():
    assert image_preprocessing((32, 32)) == {
        "dtype": "uint8",
        "pixel_range": [0, 255],
        "channels": "RGB",
        "image_size": [32, 32],
        "resize": "bilinear (PIL), to 32x32",
    }
    assert image_preprocessing()["resize"] is None
    images, labels, classes = load_digits_images(image_size=16)
    assert images.shape == (1797, 16, 16, 3) and images.dtype == np.uint8
    assert labels[:3].tolist() == [0, 1, 2] and classes == [str(i) for i in range(10)]


def _epoch(batches):
    return [batches[i] for i in range(len(batches))]


def test_image_batches_epochs_are_a_pure_function_of_seed_and_epoch():
    images = np.arange(10 * 4 * 4 * 3, dtype="uint8").reshape(10, 4, 4, 3)
    labels = np.arange(10)
    batches = ImageBatches(images, labels, batch_size=3, seed=1)
    assert len(batches) == 3
    first = _epoch(batches)
    assert all(x.shape == (3, 4, 4, 3) and y.shape == (3,) for x, y in first)
    np.testing.assert_array_equal(first[0][0], images[first[0][1]])  # images with labels
    batches.on_epoch_end()
    second = _epoch(batches)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    # A fresh dataset (a resumed run) set to epoch 1 gives epoch 1's batches; going back works.
    resumed = ImageBatches(images, labels, batch_size=3, seed=1)
    resumed.set_epoch(1)
    for a, b in zip(second, _epoch(resumed)):
        np.testing.assert_array_equal(a[1], b[1])
    resumed.set_epoch(0)
    for a, b in zip(first, _epoch(resumed)):
        np.testing.assert_array_equal(a[1], b[1])
    # Module-level classes pickle (PyDataset workers), keeping their epoch.
    copy = pickle.loads(pickle.dumps(resumed))
    np.testing.assert_array_equal(copy[2][1], first[2][1])
    unlabelled = ImageBatches(images, None, batch_size=4, steps_per_epoch=5, seed=1)
    assert len(unlabelled) == 5 and len(unlabelled[4]) == 1
    with pytest.raises(ValueError, match="batch size 11 but only 10 images"):
        ImageBatches(images, labels, batch_size=11)


def test_crop_flip_batches_are_reproducible():
    images = np.random.default_rng(0).integers(0, 255, (8, 6, 6, 3), dtype="uint8")
    batches = ImageBatches(images, np.arange(8), 4, seed=2, augment="crop_flip")
    x, y = batches[1]
    again = ImageBatches(images, np.arange(8), 4, seed=2, augment="crop_flip")[1][0]
    np.testing.assert_array_equal(x, again)
    assert x.shape == (4, 6, 6, 3) and not np.array_equal(x, images[y])
    batches.set_epoch(3)
    assert not np.array_equal(batches[1][0], x)
    with pytest.raises(ValueError, match="received 'flip'"):
        ImageBatches(images, None, 4, augment="flip")
