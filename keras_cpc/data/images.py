"""Images: a class-folder or TFDS source decoded on demand, a built-in digits set, and
shuffled full batches for `fit`.

Images travel as RGB uint8 in [0, 255] (`image_preprocessing` says so for preset metadata);
the models rescale them.
"""

import numpy as np

from keras_cpc.data.batches import EpochBatches
from keras_cpc.data.folders import (
    IMAGE_SUFFIXES,
    image_hw,
    list_class_folder,
    read_images,
    readable_images,
)
from keras_cpc.data.tfds import is_tfds_source, load_tfds_images, tfds_name


def image_preprocessing(image_size=None):
    """What `ImageFolder` / `read_images` do to an image, as a dict for preset metadata.

    Example:
        >>> image_preprocessing(32)["resize"]
        'bilinear (PIL), to 32x32'
    """
    size = image_hw(image_size)
    return {
        "dtype": "uint8",
        "pixel_range": [0, 255],
        "channels": "RGB",
        "image_size": None if size is None else list(size),
        "resize": None if size is None else f"bilinear (PIL), to {size[0]}x{size[1]}",
    }


class ImageFolder:
    """The images of a class-per-folder tree or a TFDS dataset, decoded only when taken.

    Every file of a folder is checked when the source is made (header and end marker,
    about 3 s for 50k CIFAR JPEGs): unreadable ones (empty, truncated, not an image) are
    left out with one warning naming each, and the labels of the others stay aligned, so
    `take` never meets a bad file halfway through training.

    Args:
        source: a folder with one sub-folder per class, or ``"tfds:name"`` (prepared
            locally; held in memory).
        image_size: ``(height, width)`` or an int; images are resized (bilinear) to it.
            None keeps their size.

    Attributes:
        files: list of `Path` (None for TFDS), aligned with ``labels``.
        labels: int array, the class index of each image.
        classes: list of class names (sub-folder names, sorted).
        skipped: list of ``(path, reason)`` of the files left out.

    Example:
        >>> source = ImageFolder("~/data/cifar10/train", image_size=32)
        >>> images = source.take(np.arange(8))  # uint8 (8, 32, 32, 3)
    """

    def __init__(self, source, image_size=None):
        self.source, self.image_size = str(source), image_hw(image_size)
        self.skipped, self._images = [], None
        if is_tfds_source(source):
            images, self.labels, self.classes = load_tfds_images(tfds_name(source))
            self._images, self.files = self._resized(images), None
            return
        files, labels, self.classes = list_class_folder(source, IMAGE_SUFFIXES)
        keep, self.skipped = readable_images(files)
        if len(keep) == 0:
            raise ValueError(f"Expected readable images in {source}; all {len(files)} failed.")
        self.files, self.labels = [files[i] for i in keep], labels[keep]

    def _resized(self, images):
        from PIL import Image

        # A list means TFDS held images of several sizes (see load_tfds_images).
        same_size = not isinstance(images, list) and (
            self.image_size is None or images.shape[1:3] == self.image_size
        )
        if same_size:
            return images
        if self.image_size is None:
            raise ValueError(
                f"Expected images of one size in {self.source}; received several. Pass an "
                "image_size to resize them."
            )
        size = self.image_size[::-1]
        return np.stack(
            [np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR)) for im in images]
        )

    def __len__(self):
        return len(self.labels)

    def take(self, rows):
        """Decoded uint8 images ``(len(rows), height, width, 3)`` of the given row indices."""
        rows = np.asarray(rows, dtype=int)
        if self._images is not None:
            return self._images[rows]
        return read_images([self.files[i] for i in rows], self.image_size)


def load_digits_images(image_size=32):
    """scikit-learn's 8x8 handwritten digits (1797, shipped with scikit-learn) as RGB uint8.

    Grey levels 0..16 become 0..255, the 8x8 images are upsampled (bilinear) to
    ``image_size`` and repeated over 3 channels, the input a CIFAR-stem ResNet preset takes.

    Returns:
        ``(images, labels, classes)``: uint8 (1797, size, size, 3), int array, ["0".."9"].

    Example:
        >>> images, labels, classes = load_digits_images(32)
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for image in digits.images:
        grey = Image.fromarray((image * (255.0 / 16.0)).astype("uint8"))
        grey = grey.resize((image_size, image_size), Image.BILINEAR)
        images.append(np.repeat(np.asarray(grey)[..., None], 3, axis=-1))
    return np.stack(images), digits.target.astype(int), [str(i) for i in range(10)]


def crop_and_flip(images, rng, padding=4):
    """Random ``padding``-pixel-padded (reflect) crops and horizontal flips, one per image.

    The usual augmentation of supervised CIFAR training (and of fine-tuning).

    Example:
        >>> out = crop_and_flip(images, np.random.default_rng(0))  # same shape as images
    """
    height, width = images.shape[1:3]
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    padded = np.pad(images, pad, mode="reflect")
    out = np.empty_like(images)
    for i in range(len(images)):
        top, left = rng.integers(0, 2 * padding + 1, size=2)
        crop = padded[i, top : top + height, left : left + width]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out


class ImageBatches(EpochBatches):
    """Shuffled full batches of uint8 images (and labels) for `fit` (a Keras `PyDataset`).

    The last partial batch is dropped so every step sees ``batch_size`` images (contrastive
    negatives and compiled shapes stay fixed). The order (and the augmentation) of epoch
    ``e`` is a pure function of ``(seed, e)``: `set_epoch` jumps to an epoch (as a resumed
    run must), ``on_epoch_end`` advances.

    Args:
        images: uint8 array (n, height, width, 3).
        labels: int array (n,), or None for unlabelled batches ``(images,)``.
        batch_size: images per batch.
        steps_per_epoch: batches per epoch; None for one pass over the images.
        seed: seed of the orders (and crops).
        augment: None, or ``"crop_flip"`` for `crop_and_flip` (fine-tuning).
        **kwargs: `PyDataset` arguments (workers, use_multiprocessing, max_queue_size).

    Example:
        >>> batches = ImageBatches(x_train, None, batch_size=256, seed=0)
        >>> pretrainer.fit(batches, epochs=100)
    """

    def __init__(
        self, images, labels, batch_size, steps_per_epoch=None, seed=0, augment=None, **kwargs
    ):
        if augment not in (None, "crop_flip"):
            raise ValueError(f"`augment` must be None or 'crop_flip'; received {augment!r}.")
        if labels is not None and len(labels) != len(images):
            raise ValueError(
                f"Expected one label per image; received {len(labels)} labels for "
                f"{len(images)} images."
            )
        self.images, self.labels, self.augment = images, labels, augment
        super().__init__(len(images), batch_size, steps_per_epoch, seed, "images", **kwargs)

    def __getitem__(self, index):
        rows = self.batch_rows(index)
        images = self.images[rows]
        if self.augment == "crop_flip":
            images = crop_and_flip(images, np.random.default_rng([self.seed, self.epoch, index]))
        return (images,) if self.labels is None else (images, self.labels[rows])
