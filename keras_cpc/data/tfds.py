"""TFDS adapters: datasets already prepared on this machine (keras_cpc never downloads).

A *source* string names either a folder or a TFDS dataset: ``"tfds:cifar10"`` (or a bare
name such as ``"cifar10"`` that is not an existing path).
"""

from pathlib import Path

import numpy as np


def is_tfds_source(source):
    """True when ``source`` names a TFDS dataset rather than a folder.

    Args:
        source: ``"tfds:name"``, a bare dataset name, or a path.

    Example:
        >>> is_tfds_source("tfds:spoken_digit"), is_tfds_source("~/data/fsdd/recordings")
        (True, False)
    """
    text = str(source)
    # A bare word that is no existing path is taken as a dataset name (as the examples do).
    return text.startswith("tfds:") or (not Path(text).expanduser().exists() and "/" not in text)


def tfds_name(source):
    """The dataset name of a TFDS source: ``"tfds:cifar10"`` -> ``"cifar10"``."""
    return str(source).removeprefix("tfds:")


def prepared_builder(name, data_dir=None):
    """The TFDS builder of ``name``, refusing a dataset that is not prepared locally.

    Args:
        name: TFDS dataset name (optionally with a version, ``"spoken_digit:1.0.9"``).
        data_dir: TFDS data folder; None for TFDS's default.

    Raises:
        ImportError: tensorflow-datasets is not installed.
        ValueError: TFDS has no dataset of that name.
        FileNotFoundError: the dataset is not prepared in the data folder.

    Example:
        >>> builder = prepared_builder("spoken_digit")
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"Reading the TFDS dataset {name!r} needs tensorflow-datasets: "
            "pip install 'keras-cpc[data]'."
        ) from error
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises several types for unknown names
        raise ValueError(
            f"Expected the name of a TFDS dataset; received {name!r} ({error})."
        ) from None
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir}; keras_cpc never "
            f"downloads. Prepare it on a machine with internet (`tfds build {name}`) and copy "
            "the data folder here (pass its data_dir), or pass a folder instead."
        )
    return builder


def read_builder(builder, split="train", max_examples=None):
    """All examples of a prepared builder's ``split`` as a list of numpy dicts."""
    import tensorflow_datasets as tfds

    dataset = builder.as_dataset(split=split)
    if max_examples is not None:
        dataset = dataset.take(int(max_examples))
    return list(tfds.as_numpy(dataset))


def load_tfds(name, split="train", data_dir=None, max_examples=None):
    """A locally prepared TFDS dataset (never downloads) as a list of numpy dicts.

    Args:
        name: TFDS dataset name.
        split: TFDS split, e.g. ``"train"`` or ``"train[:90%]"``.
        data_dir: TFDS data folder; None for TFDS's default.
        max_examples: read at most this many examples.

    Example:
        >>> records = load_tfds("spoken_digit")
        >>> records[0]["audio"].shape
    """
    return read_builder(prepared_builder(name, data_dir), split, max_examples)


def load_tfds_images(name, split="train"):
    """Images of a TFDS dataset as RGB uint8 ``(images, labels, classes)`` (grey repeated).

    Example:
        >>> images, labels, classes = load_tfds_images("cifar10")
    """
    records = load_tfds(name, split)
    images = [np.asarray(r["image"], dtype="uint8") for r in records]
    images = [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in images]
    if len({im.shape for im in images}) > 1:
        return images, *_labels_and_classes(records)  # sizes differ: the caller resizes
    return np.stack(images), *_labels_and_classes(records)


def _labels_and_classes(records):
    labels = np.asarray([int(r["label"]) for r in records])
    return labels, [str(c) for c in sorted(set(labels.tolist()))]
