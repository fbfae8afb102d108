"""Prepare the data folders the examples and the presets' commands read.

Writes ``$DATA/cifar10/train/<class>/NNNN.jpg`` (CIFAR-10 training images as JPEG class
folders) and ``$DATA/fsdd/recordings/{digit}_{speaker}_{index}.wav`` (Free Spoken Digit
Dataset, 8 kHz mono 16-bit WAV), where ``$DATA`` is ``--data``, else ``$KERAS_CPC_DATA``, else
``~/data``. Nothing is downloaded; SOURCE is one of:

    a project archive        ../shared/data/cifar10-train.tar.gz, ../shared/data/fsdd-train.tar.gz
    tfds (or tfds:NAME)      a TFDS dataset already prepared on this machine (cifar10,
                             spoken_digit); --tfds-data-dir names its folder
    CIFAR-10 python release  cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html
                             (or its extracted cifar-10-batches-py folder)
    FSDD repository          a clone of https://github.com/Jakobovski/free-spoken-digit-dataset
                             (its recordings/ folder is read), or a .tar.gz of the repository

Only training data is written: the CIFAR-10 test batch never, and FSDD clips with index 0-4 (the
official test split) only with --include-test, since the pretraining scripts hold out index
5-9 and would otherwise train on the test split. The output is built in a temporary sibling
folder and renamed into place when complete; an existing folder is kept unless --overwrite.
JPEGs are written as the project archive's were (Pillow's defaults, quality 75).

Examples:
    python scripts/prepare_data.py cifar10 ../shared/data/cifar10-train.tar.gz
    python scripts/prepare_data.py fsdd ~/src/free-spoken-digit-dataset --data /datasets
    python scripts/prepare_data.py cifar10 tfds --overwrite
"""

import argparse
import io
import os
import pickle
import re
import shutil
import sys
import tarfile
import tempfile
import wave
from pathlib import Path

import numpy as np

# Where each dataset goes under the data root.
TARGETS = {"cifar10": Path("cifar10") / "train", "fsdd": Path("fsdd") / "recordings"}
TFDS_NAMES = {"cifar10": "cifar10", "fsdd": "spoken_digit"}
FSDD_RATE = 8000
# {digit}_{speaker}_{index}.wav, the FSDD file name (as keras_cpc.data.FSDD_NAME reads it).
FSDD_FILE = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
CIFAR_TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
# The globals a CIFAR-10 python batch pickles (dicts of bytes, lists and numpy arrays):
# anything else is refused, so a doctored pickle cannot run code.
PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 pickles bytes at protocol 2 (harmless)
}


def default_data_root():
    """``$KERAS_CPC_DATA`` or ``~/data`` (keras_cpc.training.data_root's rule, without keras)."""
    return os.environ.get("KERAS_CPC_DATA") or "~/data"


# ---- CIFAR-10 ------------------------------------------------------------------------------


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"Expected a CIFAR-10 python batch (dicts, lists, numpy arrays); received a "
                f"pickle that references {module}.{name}."
            )
        return super().find_class(module, name)


def read_cifar_batch(stream):
    """``(images uint8 (n, 32, 32, 3), labels)`` of one CIFAR-10 python batch file object."""
    batch = _CifarUnpickler(stream, encoding="bytes").load()
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if data is None or labels is None:
        raise ValueError(
            f"Expected a CIFAR-10 batch with keys b'data' and b'labels'; received keys "
            f"{sorted(batch)}."
        )
    # Rows hold the red, green and blue 32x32 planes one after the other.
    images = np.asarray(data, dtype="uint8").reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, [int(label) for label in labels]


def _cifar_members(source):
    """``{file name: bytes}`` of the CIFAR-10 python release (tarball or folder)."""
    wanted = set(CIFAR_TRAIN_BATCHES) | {"batches.meta"}
    found = {}
    if source.is_dir():
        for name in wanted:
            path = source / name
            if path.is_file():
                found[name] = path.read_bytes()
    else:
        with tarfile.open(source) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if member.isfile() and name in wanted:
                    found[name] = archive.extractfile(member).read()
    missing = sorted(set(CIFAR_TRAIN_BATCHES) - set(found))
    if missing:
        raise ValueError(
            f"Expected the CIFAR-10 python release (cifar-10-batches-py/data_batch_1..5) in "
            f"{source}; received none of {missing}."
        )
    return found


def cifar_python_examples(source):
    """Yield ``(class name, uint8 image)`` of the five training batches, in file order."""
    found = _cifar_members(source)
    names = [f"class_{i}" for i in range(10)]
    if "batches.meta" in found:
        meta = _CifarUnpickler(io.BytesIO(found["batches.meta"]), encoding="bytes").load()
        names = [n.decode() for n in meta[b"label_names"]]
    for batch in CIFAR_TRAIN_BATCHES:
        images, labels = read_cifar_batch(io.BytesIO(found[batch]))
        for image, label in zip(images, labels):
            yield names[label], image


def tfds_cifar_examples(data_dir=None):
    """Yield ``(class name, uint8 image)`` of a locally prepared TFDS ``cifar10`` train split."""
    from keras_cpc.data.tfds import prepared_builder, read_builder  # refuses to download

    builder = prepared_builder("cifar10", data_dir)
    names = builder.info.features["label"].names
    for record in read_builder(builder, "train"):
        yield names[int(record["label"])], np.asarray(record["image"], dtype="uint8")


def write_cifar(examples, folder):
    """Write ``folder/<class>/NNNN.jpg`` (numbered per class, in order); returns the count."""
    from PIL import Image

    counts = {}
    for name, image in examples:
        number = counts.get(name, 0)
        (folder / name).mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / name / f"{number:04d}.jpg")
        counts[name] = number + 1
    return sum(counts.values())


# ---- FSDD ----------------------------------------------------------------------------------


def keep_fsdd(name, include_test):
    """True for an FSDD file name kept: index >= 5, or any index with ``include_test``."""
    match = FSDD_FILE.match(name)
    return bool(match) and (include_test or int(match[3]) >= 5)


def fsdd_repository_files(source, include_test):
    """Yield ``(file name, wav bytes)`` of a repository's ``recordings/`` (folder or tar)."""
    if source.is_dir():
        folder = source / "recordings" if (source / "recordings").is_dir() else source
        for path in sorted(folder.glob("*.wav")):
            if keep_fsdd(path.name, include_test):
                yield path.name, path.read_bytes()
        return
    with tarfile.open(source) as archive:
        for member in archive.getmembers():
            path = Path(member.name)
            if member.isfile() and path.parent.name == "recordings":
                if keep_fsdd(path.name, include_test):
                    yield path.name, archive.extractfile(member).read()


def tfds_fsdd_files(include_test, data_dir=None):
    """Yield ``(file name, wav bytes)`` of a locally prepared TFDS ``spoken_digit``."""
    from keras_cpc.data.tfds import prepared_builder, read_builder  # refuses to download

    for record in read_builder(prepared_builder("spoken_digit", data_dir), "train"):
        name = Path(_text(record.get("audio/filename", b""))).name
        if not FSDD_FILE.match(name):
            raise ValueError(
                f"Expected TFDS spoken_digit records named {{digit}}_{{speaker}}_{{index}}.wav; "
                f"received audio/filename {name!r}."
            )
        if keep_fsdd(name, include_test):
            yield name, wav_bytes(record["audio"], FSDD_RATE)


def wav_bytes(samples, sample_rate):
    """16-bit mono WAV of integer PCM samples (TFDS holds them as int64)."""
    pcm = np.clip(np.asarray(samples).reshape(-1), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_files(files, folder):
    """Write ``(name, bytes)`` pairs into ``folder``; returns the count."""
    count = 0
    for name, payload in files:
        (folder / name).write_bytes(payload)
        count += 1
    return count


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


# ---- project archives ----------------------------------------------------------------------


def extract_project_archive(source, dataset, folder):
    """Unpack a project archive's ``train/`` or ``recordings/`` into ``folder``; the count."""
    top = TARGETS[dataset].name
    count = 0
    with tarfile.open(source) as archive:
        for member in archive.getmembers():
            parts = _parts(member.name)
            if not member.isfile() or len(parts) < 2 or parts[0] != top or ".." in parts:
                continue  # only regular files under train/ or recordings/
            target = folder.joinpath(*parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
            count += 1
    if count == 0:
        raise ValueError(
            f"Expected a project archive holding {top}/ (e.g. ../shared/data/{dataset}-train"
            f".tar.gz); received {source} with no file under {top}/."
        )
    return count


def is_project_archive(source, dataset):
    """True for a tarball whose first member sits under ``train/`` or ``recordings/``."""
    if source.is_dir() or not tarfile.is_tarfile(source):
        return False
    with tarfile.open(source) as archive:
        first = next(iter(archive), None)
    return first is not None and _parts(first.name)[:1] == (TARGETS[dataset].name,)


def _parts(name):
    # "./train/cat/0.jpg" and "train/cat/0.jpg" name the same member.
    return tuple(part for part in Path(name).parts if part != ".")


# ---- the job -------------------------------------------------------------------------------


def fill(dataset, source, folder, include_test=False, tfds_data_dir=None):
    """Write ``dataset`` from ``source`` into the (empty) ``folder``; returns a description."""
    if source in ("tfds", f"tfds:{TFDS_NAMES[dataset]}"):
        if dataset == "cifar10":
            return write_cifar(tfds_cifar_examples(tfds_data_dir), folder), "TFDS cifar10"
        files = tfds_fsdd_files(include_test, tfds_data_dir)
        return write_files(files, folder), "TFDS spoken_digit"
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Expected SOURCE to be an archive, a folder, or 'tfds'; received {source!r}, "
            "which does not exist."
        )
    if is_project_archive(path, dataset):
        return extract_project_archive(path, dataset, folder), "project archive"
    if dataset == "cifar10":
        return write_cifar(cifar_python_examples(path), folder), "CIFAR-10 python release"
    return write_files(fsdd_repository_files(path, include_test), folder), "FSDD repository"


def prepare(dataset, source, data=None, overwrite=False, include_test=False, tfds_data_dir=None):
    """Build the dataset's folder under the data root atomically; returns its path.

    Args:
        dataset: ``"cifar10"`` or ``"fsdd"``.
        source: a project archive, the public release (file or folder), or ``"tfds"``.
        data: the data root (None: ``$KERAS_CPC_DATA`` or ``~/data``).
        overwrite: replace an existing folder (only once the new one is complete).
        include_test: FSDD: also write index 0-4, the official test split.
        tfds_data_dir: TFDS data folder (None: TFDS's default).

    Example:
        >>> prepare("fsdd", "../shared/data/fsdd-train.tar.gz", data="/tmp/data")
        PosixPath('/tmp/data/fsdd/recordings')
    """
    if dataset not in TARGETS:
        raise ValueError(f"Expected a dataset in {sorted(TARGETS)}; received {dataset!r}.")
    target = Path(data or default_data_root()).expanduser().absolute() / TARGETS[dataset]
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Expected no folder at {target}; received an existing one. Pass --overwrite to "
            "replace it."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # A sibling temporary folder: the rename below stays on one file system.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        count, kind = fill(dataset, source, staging, include_test, tfds_data_dir)
        if count == 0:
            raise ValueError(f"Expected {dataset} files in {source}; received none.")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700; give the usual permissions
        old = None
        if target.exists():  # only with overwrite (checked above)
            old = target.parent / f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}"
            target.rename(old)
        staging.rename(target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"Wrote {count} {dataset} files from the {kind} to {target}")
    return target


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(TARGETS))
    parser.add_argument("source", help="archive, public release (file or folder), or tfds")
    parser.add_argument("--data", help="data root (default: $KERAS_CPC_DATA or ~/data)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    parser.add_argument(
        "--include-test", action="store_true", help="FSDD: also write index 0-4 (test split)"
    )
    parser.add_argument("--tfds-data-dir", help="TFDS data folder (default: TFDS's own)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return prepare(
            args.dataset,
            args.source,
            args.data,
            args.overwrite,
            args.include_test,
            args.tfds_data_dir,
        )
    except (FileExistsError, FileNotFoundError, ValueError, pickle.UnpicklingError) as error:
        sys.exit(f"prepare_data.py: {error}")


if __name__ == "__main__":
    main()
