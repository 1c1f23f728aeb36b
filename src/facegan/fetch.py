"""Files from elsewhere: downloads checked against their published digest, local files
linked or copied in. A file reaches its final path complete and verified, or not at all.
"""
from __future__ import annotations

import http.client
import math
import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from facegan.digests import CHUNK, digest_matches, file_digest
from facegan.errors import UserError, cause
from facegan.io import staged
from facegan.progress import progress


class DataSourceError(UserError):
    """A dataset that cannot be brought in: missing files, a bad download, an unknown source."""


class ChecksumError(DataSourceError):
    """A fetched file whose digest is not the published one."""


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def download_file(url: str, dst: Path, checksum: str | None, algorithm: str = "md5", instead: str = "") -> Path:
    """Download `url` (http(s), file://, or a Google Drive link) to `dst`, checking its
    `algorithm` (a hashlib name) hex digest against `checksum`.

    The bytes go to a temporary file beside `dst` and are renamed only once the checksum
    matches, so `dst` is either complete and verified or absent. Every failure (no network,
    a refusal, an HTTP error or quota, a truncated file, a wrong digest) is one
    DataSourceError (ChecksumError for a wrong digest) that names the file and the URL and,
    with `instead`, says what to do.
    """
    dst = Path(dst)
    try:
        with staged(dst) as part:
            if urllib.parse.urlparse(url).netloc == "drive.google.com":
                _download_drive(url, part)
            else:
                _download_url(url, part, dst.name)
            verify_checksum(part, checksum, algorithm)
    except DataSourceError as error:
        message = f"{dst.name}: cannot fetch it from {url}: {error}; nothing was kept"
        raise type(error)(message + (f". Instead: {instead}" if instead else "")) from error
    return dst


def _download_url(url: str, part: Path, name: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            size = int(response.headers.get("Content-Length") or 0)
            chunks = iter(lambda: response.read(CHUNK), b"")
            for chunk in progress(chunks, total=math.ceil(size / CHUNK) or None, desc=f"{name} (MiB)"):
                out.write(chunk)
    except (OSError, ValueError, http.client.HTTPException) as error:  # no network, refused, HTTP errors
        raise DataSourceError(str(getattr(error, "reason", None) or error)) from error
    if size and part.stat().st_size != size:
        raise DataSourceError(f"the server sent {part.stat().st_size} of {size} bytes (a truncated file)")


def _download_drive(url: str, part: Path) -> None:
    """Google Drive needs its confirmation dance: torchvision's helper (via gdown) does it."""
    from torchvision.datasets.utils import download_file_from_google_drive

    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    if "id" not in query:
        raise DataSourceError("a Google Drive URL needs an id=... parameter")
    part.unlink(missing_ok=True)  # the helper would take any file already there as done
    try:
        download_file_from_google_drive(query["id"][0], str(part.parent), part.name)
    except Exception as error:  # gdown and requests raise many types: no network, quota, a changed page
        raise DataSourceError(cause(error)) from error
    if not part.exists():
        raise DataSourceError("Google Drive sent nothing (quota or a changed page)")


def verify_checksum(path: Path, expected: str | None, algorithm: str = "md5") -> None:
    """Raise ChecksumError with the expected and the actual digest when they differ."""
    if expected is None:
        return
    actual = file_digest(path, algorithm)
    if not digest_matches(actual, expected):
        raise ChecksumError(f"{algorithm} {actual} does not match the expected {expected}")
