"""Files from folders: lists of inputs, class-per-folder trees, image checks and decoding.

The one place that names the accepted file suffixes and reports skipped files; shared by the
``keras-cpc`` command, the image and audio loaders, and the examples.
"""

import warnings
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
# Last bytes of a complete file: a cut-off JPEG or PNG lacks them (checked without decoding).
_IMAGE_ENDINGS = {"JPEG": (b"\xff\xd9",), "PNG": (b"IEND\xaeB`\x82",)}


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


def warn_skipped(kind, skipped, stacklevel=3):
    """One warning naming every skipped file and why (nothing when ``skipped`` is empty).

    Args:
        kind: what was skipped, e.g. ``"image"`` or ``"audio"``.
        skipped: list of ``(path, reason)``.
        stacklevel: passed to `warnings.warn` (3 points at the loader's caller).

    Example:
        >>> warn_skipped("image", [("a/0.jpg", "empty file (0 bytes)")])
    """
    if skipped:
        listed = "; ".join(f"{path} ({reason})" for path, reason in skipped)
        warnings.warn(
            f"Skipped {len(skipped)} {kind} file(s) that cannot be used (the others keep their "
            f"labels): {listed}",
            stacklevel=stacklevel,
        )


def image_problem(path):
    """Why the image at ``path`` cannot be read, or None when it can.

    Cheap enough for 50k CIFAR files (about 3 s): the header is parsed, and a JPEG or PNG
    must end with its end marker; only files that fail that (or other formats) are decoded
    in full, so a truncated file is caught here rather than halfway through training.

    Example:
        >>> image_problem("cat.jpg") is None
    """
    from PIL import Image

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:
            endings = _IMAGE_ENDINGS.get(image.format)
            if endings is not None and _file_tail(path, 16).rstrip(b"\0\r\n ").endswith(endings):
                return None
            image.load()  # raises on truncated or corrupt data
    except Exception as error:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError...
        return f"not a readable image: {error}"
    return None


def _file_tail(path, count):
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(handle.tell() - count, 0))
        return handle.read()


def readable_images(files, warn=True):
    """Indices of the readable images among ``files`` (`image_problem`), warning once.

    Args:
        files: image paths.
        warn: emit one warning naming each unreadable file.

    Returns:
        ``(keep, skipped)``: int array of kept positions, list of ``(path, reason)``.

    Example:
        >>> keep, skipped = readable_images(files)
        >>> files, labels = [files[i] for i in keep], labels[keep]
    """
    keep, skipped = [], []
    for position, path in enumerate(files):
        problem = image_problem(path)
        if problem is None:
            keep.append(position)
        else:
            skipped.append((str(path), problem))
    if warn:
        warn_skipped("image", skipped)
    return np.asarray(keep, dtype=int), skipped


def read_images(files, image_size=None):
    """Decode image files to a uint8 array (n, h, w, 3), resized (bilinear) to ``image_size``.

    Args:
        files: image paths.
        image_size: ``(height, width)`` (or one int for square images), or None to keep
            sizes (which must then all agree).

    Raises:
        ValueError: a file is not a readable image (naming it), or sizes differ.

    Example:
        >>> images = read_images(files[:8], image_size=(32, 32))
    """
    from PIL import Image

    size = image_hw(image_size)
    images = []
    for path in files:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if size is not None and image.size != size[::-1]:
                    image = image.resize(size[::-1], Image.BILINEAR)
                images.append(np.asarray(image, dtype="uint8"))
        except Exception as error:  # noqa: BLE001 - PIL's messages do not name the file
            raise ValueError(
                f"Expected a readable image file; received {path}, which cannot be decoded "
                f"({type(error).__name__}: {error})."
            ) from error
    if not images:
        if size is None:
            raise ValueError("Expected at least one image file; received none.")
        return np.zeros((0, *size, 3), "uint8")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"All images must share one size (pass an image size to resize); received {shapes}."
        )
    return np.stack(images)


def image_hw(image_size):
    """``image_size`` as a ``(height, width)`` tuple of ints (an int means square), or None."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)):
        return int(image_size), int(image_size)
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected an image size as an int or (height, width); received {image_size!r}."
        ) from None
    return height, width
