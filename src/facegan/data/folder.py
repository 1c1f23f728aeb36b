"""Your own folder of faces: JPEG, PNG or WebP photos, flat or in subfolders, with no
annotation file (PGAN).

The `folder` source (`facegan.data.sources.fetch_folder`) brings the photos into
`data/raw/celeba/images/` under their paths in the folder, as stylegan3's `dataset_tool.py`
and the PGAN zoo's `datasets.py` take any folder of images. Hidden files and folders (a
leading ".", such as macOS's `._` copies) are no photos.
"""
from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # compared lower-case
FOLDER_IMAGES = "images"  # the photos in data/raw/celeba/, under their paths in data.celeba.folder


def list_images(folder: Path) -> tuple[list[str], list[str]]:
    """(photos, other files) under `folder`, as sorted paths relative to it with "/"; hidden
    files and folders are in neither."""
    images, others = [], []
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if not name.startswith("."):
                relative = (Path(root) / name).relative_to(folder).as_posix()
                (images if Path(name).suffix.lower() in IMAGE_SUFFIXES else others).append(relative)
    return sorted(images), sorted(others)
