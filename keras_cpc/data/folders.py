"""Files from folders: lists of inputs, class-per-folder trees, and image decoding.

Shared by the ``keras-cpc`` command and the example scripts.
"""

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def collect_files(inputs, suffixes):
    """Files named in ``inputs`` (files, or folders searched recursively) with ``suffixes``.

    Args:
        inputs: iterable of file or folder paths.
        suffixes: accepted lower-case suffixes, e.g. `IMAGE_SUFFIXES`.

    Returns:
        list of `Path`, folders' contents sorted.

    Example:
        >>> files = collect_files(["clips/"], AUDIO_SUFFIXES)
    """
    files = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            )
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise ValueError(
                    f"Expected files ending in {', '.join(suffixes)}; received {path}."
                )
            files.append(path)
        else:
            raise FileNotFoundError(f"Expected an existing file or folder; received {path}.")
    if not files:
        raise ValueError(
            f"Expected at least one {'/'.join(suffixes)} file in {list(map(str, inputs))}; "
            "received none."
        )
    return files


def list_class_folder(root, suffixes=IMAGE_SUFFIXES):
    """Files, integer labels and class names of a class-per-folder tree (nothing decoded).

    Args:
        root: folder with one sub-folder per class (class names sorted give the labels).
        suffixes: accepted file suffixes.

    Returns:
        ``(files, labels, classes)``: list of `Path`, int array, list of str.

    Example:
        >>> files, labels, classes = list_class_folder("~/data/cifar10/train")
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Expected a folder with one sub-folder per class; received {root}."
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ValueError(f"Expected at least 2 class sub-folders in {root}; received {classes}.")
    files, labels = [], []
    for index, name in enumerate(classes):
        found = collect_files([root / name], suffixes)
        files.extend(found)
        labels.extend([index] * len(found))
    return files, np.asarray(labels), classes


def read_images(files, image_size=None):
    """Decode image files to a uint8 array (n, h, w, 3), resized (bilinear) to ``image_size``.

    Args:
        files: image paths.
        image_size: ``(height, width)``, or None to keep sizes (which must then all agree).

    Example:
        >>> images = read_images(files[:8], image_size=(32, 32))
    """
    from PIL import Image

    images = []
    for path in files:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image_size is not None and image.size != tuple(image_size[::-1]):
                image = image.resize(tuple(image_size[::-1]), Image.BILINEAR)
            images.append(np.asarray(image, dtype="uint8"))
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"All images must share one size (pass an image size to resize); received {shapes}."
        )
    return np.stack(images)
