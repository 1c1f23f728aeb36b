"""Bring a dataset into `data/raw/<dataset>/` in its original on-disk format.

Four sources: `sample` generates the synthetic CelebA (`synthetic.py`), `local` takes a
copy the user already has, `official` downloads the files torchvision's CelebA dataset
lists, verifying each against its official md5, and `folder` takes any folder of photos,
with or without a file of attributes (`folder.py`). Every source builds the output folder
beside its final path and renames it in, so an interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from facegan.data.celeba_format import CELEBA_ATTR, CELEBA_IMAGES, CELEBA_PARTITION, read_attributes, write_partition
from facegan.data.celeba_params import CELEBA_SOURCES
from facegan.data.folder import FOLDER_IMAGES, IMAGE_SUFFIXES, attribute_file_name, list_images
from facegan.data.synthetic import write_celeba_sample
from facegan.fetch import DataSourceError, download_file, link_or_copy
from facegan.io import staged
from facegan.progress import progress

log = logging.getLogger(__name__)

CELEBA_REQUIRED = [CELEBA_IMAGES, CELEBA_ATTR]
LOCAL_CELEBA = ("download CelebA's img_align_celeba and list_attr_celeba.txt by hand, then set "
                "data.celeba.source: local and data.celeba.local_dir to their folder")

_DRIVE = "https://drive.google.com/uc?id="
# name -> (url, md5): the files and checksums of torchvision.datasets.CelebA.file_list.
CELEBA_OFFICIAL: dict[str, tuple[str, str | None]] = {
    "img_align_celeba.zip": (_DRIVE + "0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb"),
    CELEBA_ATTR: (_DRIVE + "0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c"),
    CELEBA_PARTITION: (_DRIVE + "0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668"),
}


def fetch_celeba(
    source: str,
    dst: Path,
    *,
    count: int,
    seed: int,
    local_dir: Path | str | None,
    folder: Path | str | None = None,
    attributes_file: Path | str | None = None,
    urls: Mapping[str, tuple[str, str | None]] | None = None,
) -> None:
    """Fill `dst` from `source`: CelebA in the official layout (sample | local | official),
    or a folder of photos and its optional attribute file (folder)."""
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
    elif source == "folder":
        if not folder:
            raise DataSourceError("data.celeba.source is 'folder' but data.celeba.folder is empty: set it to the "
                                  "folder of your photos")
        fetch_folder(Path(folder), dst, Path(attributes_file) if attributes_file else None)
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
    with staged(dst, folder=True) as staging:
        for path in progress(files, total=len(files), desc=f"linking {src.name}"):
            link_or_copy(path, staging / path.relative_to(src))


def _walk_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(Path(root) / name for root, _, names in os.walk(path) for name in names)


def fetch_folder(src: Path, dst: Path, attributes_file: Path | None = None) -> None:
    """Bring every photo of `src` into `dst`/images/ under its path in `src`, and
    `attributes_file` beside it (hard links where possible, else copies: see `fetch_local`)."""
    src = Path(src).expanduser()
    if not src.is_dir():
        raise DataSourceError(f"data.celeba.folder = {str(src)!r} is not a folder: set it to the folder of your photos")
    if attributes_file is not None:
        attributes_file = Path(attributes_file).expanduser()
        if not attributes_file.is_file():
            raise DataSourceError(f"data.celeba.attributes_file = {str(attributes_file)!r} is not a file: set it to "
                                  "your CSV of attributes, or to \"\" (PGAN needs none)")
    images, others = list_images(src)
    if attributes_file is not None:  # the CSV may well sit among the photos
        others = [name for name in others if not (src / name).samefile(attributes_file)]
    if not images:
        found = f", only {len(others)} other file(s): {_some(others)}" if others else ""
        raise DataSourceError(f"data.celeba.folder {src} holds no photo ({', '.join(IMAGE_SUFFIXES)}, in subfolders "
                              f"too){found}: set data.celeba.folder to the folder of your photos")
    if others:
        log.warning("%s: left out %d file(s) that are not photos: %s", src, len(others), _some(others))
    with staged(dst, folder=True) as staging:
        for name in progress(images, total=len(images), desc=f"linking {src.name}"):
            link_or_copy(src / name, staging / FOLDER_IMAGES / name)
        if attributes_file is not None:
            link_or_copy(attributes_file, staging / attribute_file_name(attributes_file))


def _some(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def fetch_official(dst: Path, files: Mapping[str, tuple[str, str | None]] = CELEBA_OFFICIAL) -> None:
    """Download each file into `dst`, verify it, and unpack zip archives (then delete them)."""
    with staged(dst, folder=True) as staging:
        for name, (url, md5) in files.items():
            path = download_file(url, staging / name, md5, instead=LOCAL_CELEBA)
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
