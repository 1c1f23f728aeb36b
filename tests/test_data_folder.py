"""Your own folder of faces (docs/data.md): the folder source and the centre-square crop."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import test_data_celeba
from conftest import FIXTURES, FIXTURES_ABSENT, run_stage, tiny_params_dict, write_params
from test_data_stargan import stargan_data

from facegan.data.celeba import (
    BadImagesError,
    box_downscale,
    center_square,
    load_prepared,
    prepare_celeba,
)
from facegan.data.folder import list_images
from facegan.data.sources import fetch_celeba
from facegan.data.stargan import prepare_stargan
from facegan.errors import UserError
from facegan.fetch import DataSourceError

FFHQ_256 = FIXTURES / "ffhq_256_12"
EXIF_ORIENTATION = 0x0112


@pytest.fixture
def ffhq_256() -> Path:
    if not (FFHQ_256 / "00000.png").exists():
        pytest.skip(f"{FIXTURES_ABSENT} {FFHQ_256}")
    return FFHQ_256


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random RGB picture (smooth, so that JPEG keeps it close)."""
    small = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def _save(image: Image.Image, path: Path, format: str, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=format, **options)
    return path


def photo_folder(root: Path) -> Path:
    """Photos of several sizes and formats, flat and nested, one lying on its side (EXIF says
    so), a truncated JPEG, a PNG that is text, and files that are no photos."""
    _save(_photo(300, 200, 1), root / "a" / "one.jpg", "JPEG", quality=95)
    _save(_photo(64, 96, 2).convert("P"), root / "a" / "b" / "two.PNG", "PNG")  # a palette image
    _save(_photo(128, 128, 3), root / "three.webp", "WEBP", lossless=True)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # stored on its side: a viewer turns it 90 degrees clockwise
    _save(_photo(40, 60, 4), root / "a" / "four.jpeg", "JPEG", quality=95, exif=exif)
    data = _save(_photo(50, 50, 5), root / "broken.jpg", "JPEG").read_bytes()
    (root / "broken.jpg").write_bytes(data[: len(data) // 2])
    (root / "fake.png").write_text("not a picture\n")
    (root / "notes.txt").write_text("photos of the family\n")
    (root / ".hidden.jpg").write_bytes(b"macOS resource fork")
    (root / ".thumbs").mkdir()
    _save(_photo(8, 8, 6), root / ".thumbs" / "one.jpg", "JPEG")
    return root


PHOTOS = ["a/b/two.PNG", "a/four.jpeg", "a/one.jpg", "broken.jpg", "fake.png", "three.webp"]


def expected_square(path: Path, side: int, filter: Image.Resampling = Image.Resampling.LANCZOS) -> np.ndarray:
    """The documented crop, by hand: the upright photo's largest centred square, resized to `side` if need be."""
    with Image.open(path) as image:
        turns = {6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}
        orientation = image.getexif().get(EXIF_ORIENTATION)
        upright = image.transpose(turns[orientation]) if orientation in turns else image
        pixels = np.asarray(upright.convert("RGB"))
    height, width = pixels.shape[:2]
    square = min(width, height)
    top, left = (height - square) // 2, (width - square) // 2
    crop = Image.fromarray(pixels[top : top + square, left : left + square])
    return np.asarray(crop if square == side else crop.resize((side, side), filter))


# ---------------------------------------------------------------- the source


def test_list_images_finds_photos_at_any_depth_in_order(tmp_path):
    images, others = list_images(photo_folder(tmp_path / "photos"))
    assert images == PHOTOS and others == ["notes.txt"]  # hidden files and folders are neither


def test_folder_source_links_the_photos(tmp_path):
    photos = photo_folder(tmp_path / "photos")
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=photos)
    raw = tmp_path / "raw"
    assert sorted(p.relative_to(raw / "images").as_posix() for p in (raw / "images").rglob("*") if p.is_file()) == PHOTOS
    assert (raw / "images/a/b/two.PNG").read_bytes() == (photos / "a/b/two.PNG").read_bytes()
    assert sorted(p.name for p in raw.iterdir()) == ["images"] and test_data_celeba.no_leftovers(tmp_path)


@pytest.mark.parametrize(("folder", "expected"), [
    ("", "data.celeba.source is 'folder' but data.celeba.folder is empty: set it"),
    ("nowhere", "data.celeba.folder = '.*nowhere' is not a folder: set it to the folder of your photos"),
    ("notes", r"holds no photo \(.jpg, .jpeg, .png, .webp, in subfolders too\), only 1 other file\(s\): "
              "notes.txt: set data.celeba.folder"),
])  # fmt: skip
def test_folder_source_says_what_is_wrong_and_writes_nothing(tmp_path, folder, expected):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("no photos here\n")
    with pytest.raises(DataSourceError, match=expected):
        fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=folder and tmp_path / folder)
    assert not (tmp_path / "raw").exists() and test_data_celeba.no_leftovers(tmp_path)


# ---------------------------------------------------------------- the centre-square crop


def test_center_square_is_the_largest_centred_square():
    assert center_square(300, 200) == (50, 0, 250, 200)
    assert center_square(200, 300) == (0, 50, 200, 250)
    assert center_square(201, 200) == (0, 0, 200, 200)  # an odd margin: rounded down, as stylegan3
    assert center_square(64, 64) == (0, 0, 64, 64)


def _raw_folder(tmp_path: Path) -> Path:
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=photo_folder(tmp_path / "photos"))
    return tmp_path / "raw"


def test_pgan_packs_each_photos_centred_square_and_skips_the_bad_ones(tmp_path):
    raw = _raw_folder(tmp_path)
    manifest = prepare_celeba(raw, tmp_path / "out", crop="center_square", crop_size=32, resolution=16,
                              max_bad_fraction=0.5, workers=2)
    reasons = {entry["file"]: entry["reason"] for entry in manifest["skipped"]}
    assert set(reasons) == {"broken.jpg", "fake.png"} and reasons["fake.png"] == "not an image"
    assert reasons["broken.jpg"].startswith("corrupt or truncated image")
    kept = ["a/b/two.PNG", "a/four.jpeg", "a/one.jpg", "three.webp"]
    assert manifest["files"] == kept and manifest["dataset"] == "folder" and manifest["attributes"] == []
    assert manifest["counts"] == {"listed": 6, "kept": 4, "skipped": 2, "train": 4, "val": 0, "test": 0}
    assert manifest["crop"] == {"mode": "center_square", "resize": {"size": 32, "filter": "lanczos (PIL)"}}
    assert manifest["resolutions"] == [4, 8, 16] and set(manifest["sha256"]) == {"images"}
    prepared = load_prepared(tmp_path / "out")
    assert prepared.attributes.shape == (4, 0) and prepared.indices("train").tolist() == [0, 1, 2, 3]
    for row, name in enumerate(kept):
        square = expected_square(tmp_path / "photos" / name, 32)
        assert np.array_equal(prepared.images(16)[row], box_downscale(square, 2)), name
        assert np.array_equal(prepared.images(4)[row], box_downscale(square, 8)), name
    with Image.open(tmp_path / "photos/a/four.jpeg") as lying:
        stored = np.asarray(lying.convert("RGB"))  # 60 rows of 40, as stored: EXIF turns it upright
    unturned = np.asarray(Image.fromarray(stored[10:50]).resize((32, 32), Image.Resampling.LANCZOS))
    assert not np.array_equal(prepared.images(16)[1], box_downscale(unturned, 2))
    with pytest.raises(BadImagesError, match=r"2 of the first 6 of 6 listed images are unusable.*max_bad_fraction = 0.2"):
        prepare_celeba(raw, tmp_path / "out", crop="center_square", crop_size=32, resolution=16, max_bad_fraction=0.2)
    assert load_prepared(tmp_path / "out").manifest == manifest and test_data_celeba.no_leftovers(tmp_path)


def test_the_celeba_box_on_photos_of_another_size_points_to_the_centre_square(tmp_path):
    raw = _raw_folder(tmp_path)
    for name in ("broken.jpg", "fake.png"):
        (raw / "images" / name).unlink()
    with pytest.raises(BadImagesError, match="for photos of any size, data.celeba.crop: center_square takes the "
                                             "centred square of each"):
        prepare_celeba(raw, tmp_path / "out", resolution=16, max_bad_fraction=0.0)


def test_stargan_on_a_folder_says_it_needs_attributes(tmp_path):
    with pytest.raises(UserError, match=r"holds photos but no attributes .*To train PGAN alone: dvc repro evaluate_pgan"):
        prepare_stargan(_raw_folder(tmp_path), tmp_path / "out", stargan_data(), max_bad_fraction=1.0,
                        crop="center_square")
    assert not (tmp_path / "out").exists()


def test_ffhq_fixture_at_256_px_is_packed_exactly(ffhq_256, tmp_path):
    """FFHQ's square 256 px PNGs with crop_size 256: no resize, the pyramid is exact box means of the pixels."""
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=ffhq_256)
    manifest = prepare_celeba(tmp_path / "raw", tmp_path / "out", crop="center_square", crop_size=256, resolution=32,
                              max_bad_fraction=0.0)
    names = sorted(path.name for path in ffhq_256.glob("*.png"))
    assert manifest["files"] == names and manifest["counts"]["kept"] == 12 and manifest["skipped"] == []
    images = load_prepared(tmp_path / "out").images(32)
    for row, name in enumerate(names):
        pixels = np.asarray(Image.open(ffhq_256 / name).convert("RGB"))
        assert pixels.shape == (256, 256, 3) and np.array_equal(images[row], box_downscale(pixels, 8)), name


# ---------------------------------------------------------------- the stages


@pytest.mark.slow
def test_download_and_prepare_stages_on_a_folder(ffhq_256, tmp_path):
    """The real stage scripts on a folder of the FFHQ faces, nested, in three formats, with a
    corrupt file: PGAN at 32 px from the centre square; StarGAN's stage says it needs attributes."""
    photos = tmp_path / "photos"
    names = sorted(path.name for path in ffhq_256.glob("*.png"))
    for index, name in enumerate(names):
        image = Image.open(ffhq_256 / name).convert("RGB")
        kind = ("png", "jpg", "webp")[index % 3]
        _save(image, photos / f"person{index % 2}" / f"{Path(name).stem}.{kind}", kind.replace("jpg", "jpeg").upper(),
              **({"quality": 95} if kind == "jpg" else {"lossless": True} if kind == "webp" else {}))
    jpeg = (photos / "person1" / "00001.jpg").read_bytes()
    (photos / "person0" / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    params = tiny_params_dict(resolution=32)
    params["data"]["celeba"].update(source="folder", folder=str(photos), crop="center_square", crop_size=256,
                                    max_bad_fraction=0.1)
    write_params(tmp_path / "params.yaml", params)
    run_stage("download.py", "celeba", cwd=tmp_path)
    pgan = run_stage("prepare.py", "celeba", cwd=tmp_path)
    assert "'listed': 13, 'kept': 12, 'skipped': 1" in pgan.stdout and "skipped 1" in pgan.stdout
    manifest = json.loads((tmp_path / "data/prepared/celeba/manifest.json").read_text())
    assert [entry["file"] for entry in manifest["skipped"]] == ["person0/corrupt.jpg"]
    assert manifest["skipped"][0]["reason"].startswith("corrupt or truncated image")
    images = load_prepared(tmp_path / "data/prepared/celeba").images(32)
    assert images.shape == (12, 32, 32, 3)
    lossless = [row for row, name in enumerate(manifest["files"]) if not name.endswith(".jpg")]
    for row in lossless:  # PNG and lossless WebP: the FFHQ pixels, exactly box-reduced
        original = np.asarray(Image.open(ffhq_256 / (Path(manifest["files"][row]).stem + ".png")).convert("RGB"))
        assert np.array_equal(images[row], box_downscale(original, 8)), manifest["files"][row]
    failed = run_stage("prepare.py", "stargan", cwd=tmp_path, check=False)
    assert failed.returncode == 2 and "To train PGAN alone: dvc repro evaluate_pgan" in failed.stderr, failed.stderr
