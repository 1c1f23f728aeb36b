"""Files from elsewhere: downloads checked against their published digest, local files
linked or copied in. A file reaches its final path complete and verified, or not at all.
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from facegan.errors import UserError
from facegan.io import staged
from facegan.progress import progress

CHUNK = 1 << 20


class DataSourceError(UserError):
    """A dataset that cannot be brought in: missing files, a bad download, an unknown source."""


class ChecksumError(DataSourceError):
    """A downloaded file whose md5 is not the expected one."""


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def download_file(url: str, dst: Path, checksum: str | None, algorithm: str = "md5") -> Path:
    """Download `url` (http(s), file://, or a Google Drive link) to `dst`, checking its
    `algorithm` (a hashlib name) hex digest against `checksum`.

    The bytes go to a temporary file beside `dst` and are renamed only once the checksum
    matches, so `dst` is either complete and verified or absent.
    """
    with staged(Path(dst)) as part:
        if urllib.parse.urlparse(url).netloc == "drive.google.com":
            _download_drive(url, part)
        else:
            _download_url(url, part, Path(dst).name)
        verify_checksum(part, checksum, algorithm, name=Path(dst).name)
    return Path(dst)


def _download_url(url: str, part: Path, name: str) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=60)
    except (OSError, ValueError) as error:
        raise DataSourceError(f"cannot download {url}: {error}") from error
    with response, open(part, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0)
        chunks = iter(lambda: response.read(CHUNK), b"")
        for chunk in progress(chunks, total=math.ceil(size / CHUNK) or None, desc=f"{name} (MiB)"):
            out.write(chunk)


def _download_drive(url: str, part: Path) -> None:
    """Google Drive needs its confirmation dance: torchvision's helper (via gdown) does it."""
    from torchvision.datasets.utils import download_file_from_google_drive

    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    if "id" not in query:
        raise DataSourceError(f"{url}: a Google Drive URL needs an id=... parameter")
    part.unlink(missing_ok=True)  # the helper would take any file already there as done
    try:
        download_file_from_google_drive(query["id"][0], str(part.parent), part.name)
    except RuntimeError as error:  # gdown missing, or Drive refused (quota, no network)
        raise DataSourceError(f"cannot download {url}: {error}") from error


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digest_matches(actual: str, expected: str) -> bool:
    """`expected` is the whole hex digest, or (torch hub's convention: torchvision names its
    files `name-<first 8 hex digits of the sha256>.pth`) a prefix of at least 8 digits."""
    expected = expected.lower()
    return actual == expected or (len(expected) >= 8 and actual.startswith(expected))


def verify_checksum(path: Path, expected: str | None, algorithm: str = "md5", name: str | None = None) -> None:
    """Raise ChecksumError naming the file, the expected and the actual digest when they differ."""
    if expected is None:
        return
    actual = file_digest(path, algorithm)
    if not digest_matches(actual, expected):
        raise ChecksumError(
            f"{name or Path(path).name}: {algorithm} {actual} does not match the expected {expected}; "
            "the download was deleted, run the stage again (or place the verified file by hand)"
        )
