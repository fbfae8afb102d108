"""Remote presets: official checkpoints downloaded, converted once and cached under KERAS_HOME.

A model family registers a remote preset like a shipped one, with a ``remote`` block in its
metadata (plain data; `keras_cpc.presets.registry.check_remote_spec` checks it)::

    {"base_url": "https://storage.googleapis.com/simclr-checkpoints/",
     "files": [{"path": "simclrv2/pretrained/r50_1x_sk0/checkpoint"}, ...],  # + size, sha256
     "source": "simclrv2/pretrained/r50_1x_sk0/model.ckpt-250228",  # what the converter reads
     "converter": "keras_cpc.models.resnet.convert_simclr:convert_simclr_checkpoint",
     "converter_options": {...}, "licence": "...", "published": {...}}

The first `resolve_remote` downloads every file (`keras_cpc.presets.download`: progress bar,
temporary file, size and hash checks, atomic rename) into
``$KERAS_HOME/keras_cpc/remote/<name>/files/``, records size and sha256 of each in
``sources.json`` (pinned ones are checked, the others are recorded on first download and
checked from then on), and converts them into ``.../<name>/preset/`` (an atomic preset save).
Later calls use that preset without the network. A cached preset whose files changed since
they were last verified is checked against its sha256 digests again and re-converted when
damaged. ``KERAS_CPC_REMOTE_BASE_URL`` replaces every entry's ``base_url`` (a mirror; a
``file://`` folder works).

The converter is named by a string and looked up through the loader that
``keras_cpc.models.convert`` registers (`register_converter_loader`) when ``keras_cpc.models``
is imported: this package never imports the model families.
"""

import contextlib
import datetime
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from keras_cpc.presets.atomic import recover_and_clean, staging_dir
from keras_cpc.presets.download import DownloadError, fetch_file
from keras_cpc.presets.integrity import read_metadata, sha256_of
from keras_cpc.presets.layout import CONFIG_FILE, read_json
from keras_cpc.presets.provenance import annotate_download
from keras_cpc.presets.registry import registered_presets, remote_cache_dir

BASE_URL_ENV = "KERAS_CPC_REMOTE_BASE_URL"
TIMEOUT_ENV = "KERAS_CPC_REMOTE_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
SOURCES_FILE = "sources.json"
STAMP_FILE = "preset.verified.json"
FILES_DIR = "files"
PRESET_DIR = "preset"

# The function that turns a converter string into the converter; set from above.
_CONVERTER_LOADER = {"load": None}


class RemotePresetUnavailableError(ConnectionError):
    """A remote preset is neither cached nor downloadable (offline, unreachable server)."""


def register_converter_loader(loader):
    """Set how converter strings become functions (``keras_cpc.models.convert`` calls this).

    Args:
        loader: ``loader("package.module:function")`` returns the converter.

    Example:
        >>> register_converter_loader(load_converter)
    """
    if not callable(loader):
        raise ValueError(f"`loader` must be callable; received {loader!r}.")
    _CONVERTER_LOADER["load"] = loader


def remote_spec(name):
    """The ``remote`` block of the registered preset ``name``, or None for any other name.

    Example:
        >>> remote_spec("cpc_audio_librilight_60k")["files"]
    """
    entry = registered_presets().get(name) if isinstance(name, str) else None
    return (entry or {}).get("metadata", {}).get("remote")


def remote_urls(spec):
    """``[(url, file spec)]`` of a remote block, honouring ``KERAS_CPC_REMOTE_BASE_URL``.

    Example:
        >>> [url for url, _ in remote_urls(remote_spec("cpc_audio_librilight_60k"))]
    """
    base = os.environ.get(BASE_URL_ENV) or spec["base_url"]
    base = base if base.endswith("/") else base + "/"
    return [(base + item["path"], item) for item in spec["files"]]


def resolve_remote(name, progress=True):
    """The directory of the converted remote preset ``name``, fetched and converted if needed.

    Args:
        name: a registered remote preset name.
        progress: show download and conversion progress bars.

    Example:
        >>> directory = resolve_remote("cpc_audio_librilight_60k")
    """
    spec = remote_spec(name)
    if spec is None:
        raise ValueError(f"Expected a registered remote preset name; received {name!r}.")
    cache = remote_cache_dir(name)
    if _cached_preset_ok(cache):
        return cache / PRESET_DIR
    converter = _converter(name, spec)  # before any download: a missing one fails at once
    records = _download_sources(name, spec, cache, progress)
    return _convert(name, spec, converter, records, cache, progress)


def _cached_preset_ok(cache):
    """Whether ``cache/preset`` is complete; a damaged one is removed (to be re-converted)."""
    preset = cache / PRESET_DIR
    if not os.path.lexists(preset):
        return False
    stamp = cache / STAMP_FILE
    with contextlib.suppress(OSError, ValueError):
        if read_json(stamp) == _file_stats(preset):
            return True
    try:
        metadata = read_metadata(preset)
        damaged = [
            file
            for file, digest in metadata["files"].items()
            if not (preset / file).is_file() or sha256_of(preset / file) != digest
        ]
        damaged += [] if (preset / CONFIG_FILE).is_file() else [CONFIG_FILE]
    except (OSError, ValueError) as error:
        damaged = [str(error)]
    if not damaged:
        _write_json(stamp, _file_stats(preset))
        return True
    warnings.warn(
        f"The cached preset {preset} is damaged ({', '.join(damaged)}); converting it again.",
        stacklevel=4,
    )
    _remove(preset)
    return False


def _file_stats(preset):
    """``{file: [size, mtime_ns]}`` of every file of a preset: a cheap change detector."""
    return {
        path.name: [path.stat().st_size, path.stat().st_mtime_ns]
        for path in sorted(Path(preset).iterdir())
        if path.is_file()
    }


def _download_sources(name, spec, cache, progress):
    """Download (or reuse) every file of ``spec`` into ``cache/files``; returns their records."""
    files_dir = cache / FILES_DIR
    sources_path = cache / SOURCES_FILE
    records = {}
    with contextlib.suppress(OSError, ValueError):
        records = read_json(sources_path)
    timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    for url, item in remote_urls(spec):
        relative = item["path"]
        target = files_dir / relative
        record = records.get(relative, {})
        expected_sha = item.get("sha256") or record.get("sha256")
        if target.is_file() and record:
            if _matches(target, item.get("size") or record.get("size"), expected_sha):
                continue
            target.unlink()  # damaged or altered: never used, fetched again
        try:
            size, digest = fetch_file(
                url,
                target,
                size=item.get("size") or record.get("size"),
                sha256=expected_sha,
                sha256_prefix=item.get("sha256_prefix"),
                timeout=timeout,
                progress=progress,
            )
        except DownloadError as error:
            raise RemotePresetUnavailableError(_offline_message(name, spec, cache, error)) from None
        records[relative] = {
            "url": url,
            "size": size,
            "sha256": digest,
            "pinned": bool(item.get("sha256")),
            "recorded": record.get("recorded") or _today(),
        }
        _write_json(sources_path, records)
    return {item["path"]: records[item["path"]] for item in spec["files"]}


def _matches(path, size, sha256):
    if size is not None and path.stat().st_size != size:
        return False
    return sha256 is None or sha256_of(path) == sha256


def _converter(name, spec):
    loader = _CONVERTER_LOADER["load"]
    if loader is None:
        raise ImportError(
            f"Converting remote preset {name!r} needs the model families: import "
            "keras_cpc.models (Backbone.from_preset does) before resolving it."
        )
    return loader(spec["converter"])


def _convert(name, spec, converter, records, cache, progress):
    """Convert into a staging folder, add the download records, then move it into place."""
    preset = cache / PRESET_DIR
    recover_and_clean(preset)  # staging folders of killed conversions
    staging = staging_dir(preset)
    converted = staging / PRESET_DIR
    base = os.environ.get(BASE_URL_ENV) or spec["base_url"]
    try:
        converter(
            str(cache / FILES_DIR / spec["source"]),
            str(converted),
            name=name,
            source_url=base.rstrip("/") + "/" + spec["source"],
            published=spec.get("published"),
            progress=progress,
            **spec.get("converter_options", {}),
        )
        annotate_download(converted, name, records)
        _remove(preset)
        with contextlib.suppress(FileNotFoundError):
            (cache / STAMP_FILE).unlink()
        try:
            os.replace(converted, preset)
        except OSError:
            if not (preset / CONFIG_FILE).is_file():
                raise  # else another process moved its conversion in first: checked below
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _cached_preset_ok(cache):
        raise ValueError(
            f"Converting remote preset {name!r} must leave a complete preset in {preset}; "
            "received one that fails its sha256 checks."
        )
    return preset


def _offline_message(name, spec, cache, error):
    urls = ", ".join(url for url, _ in remote_urls(spec))
    return (
        f"Remote preset {name!r} is not cached yet and could not be downloaded: {error.url} "
        f"({error.reason}). It is fetched once from {urls} and converted into {cache}. "
        "Without network access, download those files elsewhere, then run `keras-cpc convert "
        f"<downloaded file or folder> <output dir> --name {name}` and load "
        f"`from_preset('<output dir>')`. A mirror of the files can be named with {BASE_URL_ENV} "
        "(file:// folders work)."
    )


def _write_json(path, value):
    """Write JSON atomically: a temporary sibling renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as output:
            json.dump(value, output, indent=2, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _remove(directory):
    """Remove ``directory``: first renamed aside, so a reader never sees it half deleted."""
    if not os.path.lexists(directory):
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.removed-", dir=directory.parent))
    os.replace(directory, aside / directory.name)
    shutil.rmtree(aside, ignore_errors=True)


def _today():
    return datetime.date.today().isoformat()
