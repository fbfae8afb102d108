"""Downloading one file so that a partial or altered copy is never used.

The bytes go to a temporary sibling (``.<name>.part-<pid>-<random>``) with a progress bar; the
file is renamed into place only after its size and hashes check out: the ``Content-Length`` the
server announced, the size and sha256 (or sha256 prefix) the caller expects, and the md5 that
Google Cloud Storage sends in ``x-goog-hash``. Anything else deletes the temporary file and
raises. ``http(s)://`` and ``file://`` URLs are read with the standard library only.
"""

import base64
import contextlib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from keras_cpc.version import __version__

CHUNK_SIZE = 1 << 20


class DownloadError(ConnectionError):
    """The server could not be reached or refused the file; ``url`` and ``reason`` say which."""

    def __init__(self, url, reason):
        super().__init__(f"could not download {url}: {reason}")
        self.url = url
        self.reason = reason


class CorruptDownloadError(ValueError):
    """A download ended short of its size or does not match its hash; it was deleted."""


def fetch_file(
    url,
    destination,
    size=None,
    sha256=None,
    sha256_prefix=None,
    timeout=10.0,
    progress=True,
):
    """Download ``url`` to ``destination``; returns ``(size, sha256)`` of the checked file.

    Args:
        url: an ``http://``, ``https://`` or ``file://`` URL.
        destination: the final path; written only once every check passed.
        size: the expected size in bytes, or None.
        sha256: the expected hex sha256, or None.
        sha256_prefix: the expected start of the hex sha256 (the ``name-<hash>.pt`` file-name
            convention of ``torch.hub``), or None.
        timeout: seconds to wait for the connection and for each read.
        progress: show a tqdm progress bar named after the file.

    Example:
        >>> fetch_file("https://example.org/a.pt", "downloads/a.pt", sha256_prefix="d0f474de")
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": f"keras-cpc/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise DownloadError(url, f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DownloadError(url, str(error.reason)) from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise DownloadError(url, f"{type(error).__name__}: {error}") from None
    with response:
        announced = _announced_size(response.headers)
        if size is not None and announced is not None and announced != size:
            raise CorruptDownloadError(
                f"{url} must be {size:,} bytes; received a server answer announcing "
                f"{announced:,} bytes. Nothing was written."
            )
        _remove_stale_parts(destination)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{destination.name}.part-{os.getpid()}-", dir=destination.parent
        )
        try:
            with os.fdopen(handle, "wb") as output:
                received, digests = _copy(response, output, url, announced or size, progress)
                output.flush()
                os.fsync(output.fileno())
            _check(url, received, digests, announced, size, sha256, sha256_prefix, response)
            os.replace(temporary, destination)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    return received, digests["sha256"].hexdigest()


def _remove_stale_parts(destination):
    """Delete partial downloads of ``destination`` left by processes that no longer run."""
    pattern = re.compile(rf"^\.{re.escape(destination.name)}\.part-(\d+)-\w+$")
    for sibling in destination.parent.iterdir():
        match = pattern.match(sibling.name)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                sibling.unlink()


def _process_alive(pid):
    if pid == os.getpid() or os.name != "posix":
        return True  # never probe outside POSIX: os.kill would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _announced_size(headers):
    value = headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _copy(response, output, url, total, progress):
    """Copy the body into ``output``, hashing as it goes; a broken connection raises."""
    from tqdm.auto import tqdm  # imported here: listing presets must stay light

    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    received = 0
    name = url.rstrip("/").rsplit("/", 1)[-1]
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        disable=not progress,
        leave=False,
    ) as bar:
        while True:
            try:
                chunk = response.read(CHUNK_SIZE)
            except (OSError, http.client.HTTPException) as error:
                raise CorruptDownloadError(
                    f"{url} broke off after {received:,} bytes ({type(error).__name__}: "
                    f"{error}); the partial file was deleted. Run again to restart it."
                ) from None
            if not chunk:
                return received, digests
            output.write(chunk)
            for digest in digests.values():
                digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))


def _check(url, received, digests, announced, size, sha256, sha256_prefix, response):
    deleted = "the download was deleted"
    for expected, source in ((announced, "the server's Content-Length"), (size, "the registry")):
        if expected is not None and received != expected:
            state = "truncated" if received < expected else "longer than expected"
            raise CorruptDownloadError(
                f"{url} is {state}: expected {expected:,} bytes ({source}), received "
                f"{received:,}; {deleted}. Run again to restart it."
            )
    actual = digests["sha256"].hexdigest()
    if sha256 is not None and actual != sha256:
        raise CorruptDownloadError(
            f"{url} does not match its sha256: expected {sha256}, received {actual} "
            f"({received:,} bytes); {deleted}."
        )
    if sha256_prefix is not None and not actual.startswith(sha256_prefix):
        raise CorruptDownloadError(
            f"{url} does not match the sha256 prefix in its name: expected {sha256_prefix}..., "
            f"received {actual} ({received:,} bytes); {deleted}."
        )
    md5 = _goog_md5(response.headers)
    if md5 is not None and digests["md5"].digest() != md5:
        raise CorruptDownloadError(
            f"{url} does not match the md5 its server sent (x-goog-hash): expected "
            f"{md5.hex()}, received {digests['md5'].hexdigest()}; {deleted}."
        )


def _goog_md5(headers):
    """The md5 digest in Google Cloud Storage's ``x-goog-hash: crc32c=...,md5=...`` headers."""
    for header in headers.get_all("x-goog-hash") or []:
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "md5":
                with contextlib.suppress(ValueError):
                    return base64.b64decode(value, validate=True)
    return None
