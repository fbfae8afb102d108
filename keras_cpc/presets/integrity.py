"""sha256 checks: every file a preset load reads is first checked against ``metadata.json``."""

import hashlib
from pathlib import Path

from keras_cpc.presets.layout import METADATA_FILE, read_json


def sha256_of(path, chunk_size=1 << 20):
    """Hex sha256 digest of a file, read in chunks.

    Args:
        path: the file.
        chunk_size: bytes read at a time.

    Example:
        >>> sha256_of(preset_dir / "config.json")
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metadata(directory):
    """The parsed ``metadata.json`` of a preset, checked to list file digests under ``files``.

    Args:
        directory: the preset directory.

    Example:
        >>> read_metadata(resolve_preset("cpc_gru_fsdd_8khz"))["description"]
    """
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {METADATA_FILE} (with the sha256 of every file) in preset {directory}; "
            "received a directory without it."
        )
    metadata = read_json(path)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("files"), dict):
        received = sorted(metadata) if isinstance(metadata, dict) else type(metadata).__name__
        raise ValueError(
            f"{path} must map file names to sha256 digests under 'files'; received {received}."
        )
    return metadata


def verified_file(directory, filename, metadata):
    """Path of ``filename`` in the preset after checking it exists and matches its sha256.

    Args:
        directory: the preset directory.
        filename: a file name inside it.
        metadata: the preset's metadata (from `read_metadata`).

    Example:
        >>> path = verified_file(directory, CONFIG_FILE, read_metadata(directory))
    """
    path = Path(directory) / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {filename} in preset {directory}; received a directory without it "
            f"(contents: {sorted(p.name for p in Path(directory).iterdir())})."
        )
    expected = metadata["files"].get(filename)
    if expected is None:
        raise ValueError(
            f"{METADATA_FILE} of preset {directory} must list the sha256 of {filename}; "
            f"received entries only for {sorted(metadata['files'])}."
        )
    received = sha256_of(path)
    if received != expected:
        raise ValueError(
            f"{filename} in preset {directory} is truncated or altered: expected sha256 "
            f"{expected} (from {METADATA_FILE}), received {received} "
            f"({path.stat().st_size} bytes)."
        )
    return path
