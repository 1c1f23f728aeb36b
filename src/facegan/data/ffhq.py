"""FFHQ in its official on-disk layout: `NNNNN/NNNNN.png`, folders of 1000 (Karras et al. 2019).

Image `i` lives in folder `1000 * (i // 1000)`. HiFaceGAN selects its splits by folder
range (reference: train 00000-09000, test 65000-69000), so every source brings only the
images of the selected folders into `data/raw/ffhq/`:

- `sample`: deterministic synthetic faces (`synthetic.draw_face`, square framing), the
  first `per_folder` images of each selected folder;
- `local`: a copy the user has, in the official layout or flat (`NNNNN.png` at the top,
  as `../shared/fixtures/ffhq_256_12`); hard-linked where possible, else copied;
- `official`: the images listed in NVIDIA's `ffhq-dataset-v2.json`, each checked
  against its md5 from that file.
"""
from __future__ import annotations

import functools
import io
import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from facegan.data.ffhq_params import FFHQ_SOURCES
from facegan.data.parallel import ordered_map, worth_processes
from facegan.data.synthetic import WIDTH, draw_face, sample_attributes
from facegan.fetch import DataSourceError, download_file, link_or_copy
from facegan.io import staged
from facegan.progress import progress

FOLDER_SIZE = 1000
FFHQ_COUNT = 70000
# NVIDIA's metadata: every image's Drive URL, size and md5 (from download_ffhq.py).
FFHQ_METADATA = ("https://drive.google.com/uc?id=16N0RV4fHI6joBuKbQAoG34V_cQk7vxSA", "425ae20f06a4da1d4dc0f46d40ba5fd6")
FFHQ_METADATA_NAME = "ffhq-dataset-v2.json"
_IMAGE_NAME = re.compile(r"^(\d{5})\.png$")
# The square taken from the synthetic 178x218 frame: the whole head with some hair and
# neck around it, as FFHQ's alignment frames faces (eyes a little above the centre).
_SAMPLE_BOX = (0, 32, WIDTH, 32 + WIDTH)
LOCAL_FFHQ = ("download FFHQ's images1024x1024 folders by hand, then set data.ffhq.source: local and "
              "data.ffhq.local_dir to their folder")


def folder_of(image_id: int) -> int:
    return FOLDER_SIZE * (image_id // FOLDER_SIZE)


def relative_path(image_id: int) -> str:
    return f"{folder_of(image_id):05d}/{image_id:05d}.png"


def folder_range_ids(folders: Sequence[int]) -> range:
    """Image ids of the folders `[first, last]` (both included, multiples of 1000)."""
    first, last = folders
    return range(first, min(last + FOLDER_SIZE, FFHQ_COUNT))


def list_raw_ffhq(raw_dir: Path) -> dict[int, Path]:
    """{image id: path} of the PNGs in `raw_dir` (official layout or flat)."""
    found: dict[int, Path] = {}
    for root, _, names in os.walk(raw_dir):
        for name in names:
            match = _IMAGE_NAME.match(name)
            if match:
                image_id = int(match.group(1))
                if image_id in found:
                    raise DataSourceError(f"{found[image_id]} and {Path(root) / name} are both FFHQ image {image_id}")
                found[image_id] = Path(root) / name
    return found


def fetch_ffhq(source: str, dst: Path, ids: Sequence[int], *, per_folder: int, sample_size: int, seed: int,
               local_dir: Path | str | None, metadata: tuple[str, str | None] = FFHQ_METADATA) -> None:
    """Fill `dst` with the FFHQ images among `ids`, in the official layout, from `source`."""
    if source == "sample":
        wanted = [i for i in ids if i % FOLDER_SIZE < per_folder]
        write_ffhq_sample(dst, wanted, seed, sample_size)
    elif source == "local":
        if not local_dir:
            raise DataSourceError("data.ffhq.source is 'local' but data.ffhq.local_dir is empty: set it")
        fetch_ffhq_local(Path(local_dir).expanduser(), dst, ids)
    elif source == "official":
        fetch_ffhq_official(dst, ids, metadata)
    else:
        raise DataSourceError(f"data.ffhq.source = {source!r}: must be one of {', '.join(map(repr, FFHQ_SOURCES))}")


def write_ffhq_sample(out_dir: Path, ids: Sequence[int], seed: int, size: int) -> None:
    """Synthetic faces `ids` as `size` px PNGs; image i depends on (seed, i) alone."""
    faces = ordered_map(functools.partial(_ffhq_face, seed, size), ids, worth_processes(len(ids)), processes=True)
    with staged(out_dir, folder=True) as staging:
        for image_id, png in progress(zip(ids, faces), total=len(ids), desc="synthetic FFHQ"):
            path = staging / relative_path(image_id)
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(png)


def _ffhq_face(seed: int, size: int, image_id: int) -> bytes:
    """Synthetic face `image_id` as PNG bytes."""
    rng = np.random.default_rng([seed, image_id])
    attributes = {**sample_attributes(rng), "Blurry": False}  # FFHQ's faces are sharp
    face = draw_face(attributes, rng).crop(_SAMPLE_BOX).resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    face.save(buffer, format="PNG", compress_level=1)  # lossless either way; level 6 takes 5x longer here
    return buffer.getvalue()


def fetch_ffhq_local(src: Path, dst: Path, ids: Sequence[int]) -> None:
    if not src.is_dir():
        raise DataSourceError(f"local FFHQ folder {src} does not exist: set data.ffhq.local_dir to it")
    present = list_raw_ffhq(src)
    chosen = [i for i in ids if i in present]
    if not chosen:
        raise DataSourceError(
            f"{src} holds no FFHQ image (NNNNN.png) of the selected folders (ids {ids[0]:05d}-{ids[-1]:05d}): "
            "point data.ffhq.local_dir at the folder with the images, or change the folder ranges"
        )
    with staged(dst, folder=True) as staging:
        for image_id in progress(chosen, total=len(chosen), desc=f"linking {src.name}"):
            link_or_copy(present[image_id], staging / relative_path(image_id))


def fetch_ffhq_official(dst: Path, ids: Sequence[int], metadata: tuple[str, str | None] = FFHQ_METADATA) -> None:
    """The metadata JSON (kept in `dst`), then every selected image, md5-checked."""
    with staged(dst, folder=True) as staging:
        listing = download_file(metadata[0], staging / FFHQ_METADATA_NAME, metadata[1], instead=LOCAL_FFHQ)
        entries = json.loads(listing.read_text())
        missing = [i for i in ids if str(i) not in entries]
        if missing:
            raise DataSourceError(f"{FFHQ_METADATA_NAME} lists no image {missing[0]} ({len(missing)} missing)")
        for image_id in progress(ids, total=len(ids), desc="FFHQ images"):
            spec = entries[str(image_id)]["image"]
            download_file(spec["file_url"], staging / relative_path(image_id), spec["file_md5"], instead=LOCAL_FFHQ)


def select_splits(raw_dir: Path, ranges: dict[str, Sequence[int]]) -> dict[str, dict[str, Path]]:
    """{split: {"NNNNN": path}} of the images in `raw_dir` within each split's folder range."""
    present = list_raw_ffhq(raw_dir)
    chosen = {}
    for split, folders in ranges.items():
        named = {f"{i:05d}": present[i] for i in folder_range_ids(folders) if i in present}
        if not named:
            raise DataSourceError(
                f"{raw_dir} has no FFHQ image in the {split} folders {folders[0]:05d}-{folders[1]:05d}: "
                "re-run the download stage (dvc repro download_ffhq) or change data.ffhq.*_folders"
            )
        chosen[split] = named
    return chosen
