"""Bring a dataset into `data/raw/<dataset>/` in its original on-disk format (DESIGN, "download").

Three sources: `sample` generates the synthetic CelebA (`synthetic.py`), `local` takes a
copy the user already has, `official` downloads the files torchvision's CelebA dataset
lists, verifying each against its official md5. Every source builds the output folder
beside its final path and renames it in, so an interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from facegan.data.celeba_format import read_attributes, write_partition
from facegan.data.staging import staged_dir
from facegan.data.synthetic import write_celeba_sample
from facegan.errors import UserError
from facegan.progress import progress

log = logging.getLogger(__name__)

CELEBA_IMAGES, CELEBA_ATTR, CELEBA_PARTITION = "img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"
CELEBA_REQUIRED = [CELEBA_IMAGES, CELEBA_ATTR]

_DRIVE = "https://drive.google.com/uc?id="
# name -> (url, md5): the files and checksums of torchvision.datasets.CelebA.file_list.
CELEBA_OFFICIAL: dict[str, tuple[str, str | None]] = {
    "img_align_celeba.zip": (_DRIVE + "0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb"),
    CELEBA_ATTR: (_DRIVE + "0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c"),
    CELEBA_PARTITION: (_DRIVE + "0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668"),
}
CHUNK = 1 << 20


class DataSourceError(UserError):
    """A dataset that cannot be brought in: missing files, a bad download, an unknown source."""


class ChecksumError(DataSourceError):
    """A downloaded file whose md5 is not the expected one."""


CELEBA_SOURCES = ("sample", "local", "official")


def fetch_celeba(
    source: str,
    dst: Path,
    *,
    count: int,
    seed: int,
    local_dir: Path | str | None,
    urls: Mapping[str, tuple[str, str | None]] | None = None,
) -> None:
    """Fill `dst` with CelebA in the official layout from `source`: sample | local | official."""
    if source == "sample":
        write_celeba_sample(dst, count, seed)
    elif source == "local":
        if not local_dir:
            raise DataSourceError("data.celeba.source is 'local' but data.celeba.local_dir is empty: set it")
        fetch_local(Path(local_dir), dst, CELEBA_REQUIRED, optional=[CELEBA_PARTITION])
        if not (dst / CELEBA_PARTITION).exists():
            _write_all_train_partition(dst)
    elif source == "official":
        fetch_official(dst, CELEBA_OFFICIAL if urls is None else urls)
    else:
        raise DataSourceError(f"data.celeba.source = {source!r}: must be one of {', '.join(map(repr, CELEBA_SOURCES))}")


def _write_all_train_partition(dst: Path) -> None:
    _, files, _ = read_attributes(dst / CELEBA_ATTR)
    write_partition(dst / CELEBA_PARTITION, {name: 0 for name in files})
    log.warning("no %s in the local CelebA: wrote one that puts all %d images in train", CELEBA_PARTITION, len(files))


def fetch_local(src: Path, dst: Path, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Bring the `required` (and present `optional`) entries of `src` into `dst`.

    Files are hard-linked where `src` and `dst` share a file system, else copied. A hard
    link costs no space or time for 200k images, and unlike a symlink it is a real file
    inside the workspace: DVC hashes and caches the content itself, and stays correct if
    the user later moves their copy. Nothing in the pipeline writes into raw files. (With
    `cache.type hardlink` DVC marks cached files read-only; that then includes the
    user's file, which is harmless.)
    """
    src = Path(src).expanduser()
    if not src.is_dir():
        raise DataSourceError(f"local dataset folder {src} does not exist: set data.celeba.local_dir to it")
    missing = [name for name in required if not (src / name).exists()]
    if missing:
        raise DataSourceError(
            f"{src} lacks {', '.join(missing)} (needs {', '.join(required)}): point data.celeba.local_dir "
            "at the folder that holds them"
        )
    entries = [*required, *(name for name in optional if (src / name).exists())]
    files = [path for name in entries for path in _walk_files(src / name)]
    with staged_dir(dst) as staging:
        for path in progress(files, total=len(files), desc=f"linking {src.name}"):
            link_or_copy(path, staging / path.relative_to(src))


def _walk_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(Path(root) / name for root, _, names in os.walk(path) for name in names)


def link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def download_file(url: str, dst: Path, checksum: str | None, algorithm: str = "md5") -> Path:
    """Download `url` (http(s), file://, or a Google Drive link) to `dst`, checking its
    `algorithm` (a hashlib name) hex digest against `checksum`.

    The bytes go to `dst.part` first and are renamed only once the checksum matches, so
    `dst` is either complete and verified or absent.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.name + ".part")
    try:
        if urllib.parse.urlparse(url).netloc == "drive.google.com":
            _download_drive(url, part)
        else:
            _download_url(url, part)
        verify_checksum(part, checksum, algorithm, name=dst.name)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dst)
    return dst


def _download_url(url: str, part: Path) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=60)
    except (OSError, ValueError) as error:
        raise DataSourceError(f"cannot download {url}: {error}") from error
    with response, open(part, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0)
        chunks = iter(lambda: response.read(CHUNK), b"")
        for chunk in progress(chunks, total=math.ceil(size / CHUNK) or None, desc=f"{part.stem} (MiB)"):
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


def fetch_official(dst: Path, files: Mapping[str, tuple[str, str | None]] = CELEBA_OFFICIAL) -> None:
    """Download each file into `dst`, verify it, and unpack zip archives (then delete them)."""
    with staged_dir(dst) as staging:
        for name, (url, md5) in files.items():
            path = download_file(url, staging / name, md5)
            if path.suffix == ".zip":
                extract_zip(path, staging)
                path.unlink()  # the unpacked folder is the official layout; the zip is 1.4 GB more


def extract_zip(archive: Path, dst: Path) -> None:
    """Unpack `archive` into `dst`, refusing members that would land outside it."""
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        for member in members:
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise DataSourceError(f"{archive.name}: unsafe member path {member.filename!r}, refusing to unpack")
        for member in progress(members, total=len(members), desc=f"unpacking {archive.name}"):
            zipped.extract(member, dst)
