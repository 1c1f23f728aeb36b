"""Your own folder of faces (docs/data.md): the folder source, the centre-square crop, a CSV of attributes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import test_data_celeba
from conftest import FIXTURES, FIXTURES_ABSENT, run_stage, tiny_params_dict, write_params
from test_data_celeba import block_mean
from test_data_stargan import FIVE, raw_copy, stargan_data

from facegan.data.celeba import (
    BadImagesError,
    MissingImagesError,
    center_square,
    prepare_celeba,
)
from facegan.data.celeba_format import read_attributes
from facegan.data.folder import AttributeCSVError, list_images, read_attribute_csv
from facegan.data.prepared_celeba import load_prepared
from facegan.data.sources import fetch_celeba
from facegan.errors import UserError
from facegan.fetch import DataSourceError
from facegan.stargan.data import load_stargan, prepare_stargan, stargan_split

celeba_32 = test_data_celeba.celeba_32  # the fixture: skips when ../shared/fixtures is absent
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


def test_folder_source_links_the_photos_and_the_attribute_file(tmp_path):
    photos = photo_folder(tmp_path / "photos")
    (photos / "labels.csv").write_text("file,Smiling\na/one.jpg,1\n")
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=photos,
                 attributes_file=photos / "labels.csv")
    raw = tmp_path / "raw"
    assert sorted(p.relative_to(raw / "images").as_posix() for p in (raw / "images").rglob("*") if p.is_file()) == PHOTOS
    assert (raw / "images/a/b/two.PNG").read_bytes() == (photos / "a/b/two.PNG").read_bytes()
    assert sorted(p.name for p in raw.iterdir()) == ["attributes.csv", "images"]
    assert (raw / "attributes.csv").read_bytes() == (photos / "labels.csv").read_bytes()
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=photos)
    assert sorted(p.name for p in raw.iterdir()) == ["images"]  # made anew: the old CSV is gone
    assert test_data_celeba.no_leftovers(tmp_path)


@pytest.mark.parametrize(("folder", "attributes_file", "expected"), [
    ("", None, "data.celeba.source is 'folder' but data.celeba.folder is empty: set it"),
    ("nowhere", None, "data.celeba.folder = '.*nowhere' is not a folder: set it to the folder of your photos"),
    ("notes", None, r"holds no photo \(.jpg, .jpeg, .png, .webp, in subfolders too\), only 1 other file\(s\): "
                    "notes.txt: set data.celeba.folder"),
    ("photos", "absent.csv", "data.celeba.attributes_file = '.*absent.csv' is not a file"),
])  # fmt: skip
def test_folder_source_says_what_is_wrong_and_writes_nothing(tmp_path, folder, attributes_file, expected):
    photo_folder(tmp_path / "photos")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("no photos here\n")
    with pytest.raises(DataSourceError, match=expected):
        fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=folder and tmp_path / folder,
                     attributes_file=attributes_file and tmp_path / attributes_file)
    assert not (tmp_path / "raw").exists() and test_data_celeba.no_leftovers(tmp_path)


# ---------------------------------------------------------------- the centre-square crop


def test_center_square_is_the_largest_centred_square():
    assert center_square(300, 200) == (50, 0, 250, 200)
    assert center_square(200, 300) == (0, 50, 200, 250)
    assert center_square(201, 200) == (0, 0, 200, 200)  # an odd margin: rounded down, as stylegan3
    assert center_square(64, 64) == (0, 0, 64, 64)


def _raw_folder(tmp_path: Path, csv: str | None = None) -> Path:
    photos = photo_folder(tmp_path / "photos")
    if csv is not None:
        (tmp_path / "labels.csv").write_text(csv)
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=photos,
                 attributes_file=None if csv is None else tmp_path / "labels.csv")
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
        assert np.array_equal(prepared.images(16)[row], block_mean(square, 2)), name
        assert np.array_equal(prepared.images(4)[row], block_mean(square, 8)), name
    with Image.open(tmp_path / "photos/a/four.jpeg") as lying:
        stored = np.asarray(lying.convert("RGB"))  # 60 rows of 40, as stored: EXIF turns it upright
    unturned = np.asarray(Image.fromarray(stored[10:50]).resize((32, 32), Image.Resampling.LANCZOS))
    assert not np.array_equal(prepared.images(16)[1], block_mean(unturned, 2))
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
        assert pixels.shape == (256, 256, 3) and np.array_equal(images[row], block_mean(pixels, 8)), name


# ---------------------------------------------------------------- the CSV of attributes


GOOD_CSV = ("\ufeffimage, Smiling ,Glasses,Note\n"  # Excel's byte-order mark, spaces around a name
            "a/one.jpg,1,0,kept for the album\n"
            "\n"
            "three.webp, -1 ,1,\n"
            "a/b/two.PNG,0,-1,x\n")


def test_a_csv_is_read_by_its_header(tmp_path):
    (tmp_path / "labels.csv").write_text(GOOD_CSV, encoding="utf-8")
    files, lines, values = read_attribute_csv(tmp_path / "labels.csv", ["Glasses", "Smiling"])
    assert files == ["a/one.jpg", "three.webp", "a/b/two.PNG"] and lines == [2, 4, 5]
    assert values.dtype == np.int8 and values.tolist() == [[-1, 1], [1, -1], [-1, -1]]  # in the asked order


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("", 1, "expected a header row: a file column, then one named column per attribute"),
    ("file,Smiling,,Glasses\n", 1, "expected a header row"),
    ("file,Smiling,Smiling\na.jpg,1,1\n", 1, "column\\(s\\) Smiling appear more than once"),
    ("file,Smile,Glasses\na.jpg,1,1\n", 1, "no column 'Smiling' for stargan.data.attributes; its attribute columns "
                                           "are Smile, Glasses: choose among them"),
    ("file,Smiling\na.jpg,yes\n", 2, "Smiling = 'yes': must be 1 \\(the photo has it\\) or 0 or -1"),
    ("file,Smiling\na.jpg,1\nb.jpg\n", 3, "expected 2 cells, as the header has, found 1"),
    ("file,Smiling\na.jpg,1\n\nb.jpg,0\na.jpg,0\n", 5, "a.jpg is listed twice \\(first on line 2\\)"),
    ("file,Smiling\n ,1\n", 2, "the file column is empty"),
    ("file,Smiling\n\n", 2, "no rows after the header"),
])  # fmt: skip
def test_a_malformed_csv_names_the_line(tmp_path, text, line, expected):
    (tmp_path / "labels.csv").write_text(text)
    with pytest.raises(AttributeCSVError, match=expected) as error:
        read_attribute_csv(tmp_path / "labels.csv", ["Smiling"])
    assert error.value.line == line and f"labels.csv, line {line}: " in str(error.value)


def test_a_csv_that_is_not_utf8_is_refused(tmp_path):
    (tmp_path / "labels.csv").write_bytes("file,Smiling\ncafé.jpg,1\n".encode("latin-1"))
    with pytest.raises(UserError, match="cannot be read as a UTF-8 CSV"):
        read_attribute_csv(tmp_path / "labels.csv", ["Smiling"])


SMILE_CSV = "file,Smiling,Glasses\na/one.jpg,1,0\nthree.webp,0,1\na/b/two.PNG,1,1\na/four.jpeg,0,0\nbroken.jpg,1,0\n"


def test_stargan_learns_the_csv_columns_of_the_labelled_photos(tmp_path):
    raw = _raw_folder(tmp_path, SMILE_CSV)  # fake.png has no row: StarGAN leaves it out
    data = stargan_data(attributes=["Glasses", "Smiling"], image_size=16, test_count=1)
    manifest = prepare_stargan(raw, tmp_path / "out", data, max_bad_fraction=0.25, crop="center_square")
    assert manifest["counts"]["listed"] == 5 and [e["file"] for e in manifest["skipped"]] == ["broken.jpg"]
    assert manifest["files"] == ["a/one.jpg", "three.webp", "a/b/two.PNG", "a/four.jpeg"]  # the CSV's order
    assert manifest["crop"] == {"mode": "center_square", "resize": {"size": 16, "filter": "bilinear (PIL)"}}
    assert manifest["attributes"] == ["Glasses", "Smiling"] and manifest["stargan"]["attributes"] == ["Glasses", "Smiling"]
    prepared = load_stargan(tmp_path / "out")
    assert prepared.labels.tolist() == [[0, 1], [1, 0], [1, 1], [0, 0]]
    assert np.array_equal(prepared.split, stargan_split(5, 1, 1234)[:4])  # drawn over the 5 rows
    for row, name in enumerate(manifest["files"]):
        expected = expected_square(tmp_path / "photos" / name, 16, Image.Resampling.BILINEAR)
        assert np.array_equal(prepared.images[row], expected), name


@pytest.mark.parametrize(("csv", "error", "expected"), [
    (None, UserError, r"holds photos but no attributes \(data.celeba.source: folder with data.celeba.attributes_file "
                      r"empty\).*set data.celeba.attributes_file to a CSV.*To train PGAN alone: dvc repro evaluate_pgan"),
    ("file,Smiling\na/one.jpg,1\nb/one.jpg,0\nthree.webp,1\n", MissingImagesError,
     r"attributes.csv lists 1 of 3 images that are not in .*images: line 3 \(b/one.jpg\)\. Its first column holds each "
     r"photo's path relative to data.celeba.folder, with / between subfolders \(such as a/b/two.PNG\).*"
     r"dvc repro -f download_celeba"),
    ("file,Smiles\na/one.jpg,1\n", AttributeCSVError, "no column 'Smiling'"),
])  # fmt: skip
def test_stargan_on_a_folder_says_what_the_attributes_lack(tmp_path, csv, error, expected):
    raw = _raw_folder(tmp_path, csv)
    with pytest.raises(error, match=expected):
        prepare_stargan(raw, tmp_path / "out", stargan_data(attributes=["Smiling"]), max_bad_fraction=1.0,
                        crop="center_square")
    assert not (tmp_path / "out").exists() and test_data_celeba.no_leftovers(tmp_path)


def test_a_folder_with_celebas_attribute_file_is_packed_as_celeba(celeba_32, tmp_path):
    """CelebA's own images and list_attr_celeba.txt through the folder source: the same images and labels."""
    fetch_celeba("folder", tmp_path / "raw", count=0, seed=0, local_dir=None, folder=celeba_32 / "img_align_celeba",
                 attributes_file=celeba_32 / "list_attr_celeba.txt")
    data = stargan_data()
    folder = prepare_stargan(tmp_path / "raw", tmp_path / "folder", data, max_bad_fraction=0.0)
    celeba = prepare_stargan(raw_copy(celeba_32, tmp_path / "celeba"), tmp_path / "out", data, max_bad_fraction=0.0)
    assert folder["files"] == celeba["files"] and folder["attributes"] == celeba["attributes"]
    for name in ("images_32.npy", "labels.npy", "split.npy", "attributes.npy"):
        assert np.array_equal(np.load(tmp_path / "folder" / name), np.load(tmp_path / "out" / name)), name
    assert load_stargan(tmp_path / "folder").attribute_names == FIVE
    _, files, _ = read_attributes(celeba_32 / "list_attr_celeba.txt")
    assert folder["counts"]["listed"] == len(files) == 32


# ---------------------------------------------------------------- the stages


@pytest.mark.slow
def test_download_and_prepare_stages_on_a_folder(ffhq_256, tmp_path):
    """The real stage scripts on a folder of the FFHQ faces, nested, in three formats, with a
    corrupt file and a CSV: PGAN at 32 px from the centre square, StarGAN from the CSV."""
    photos = tmp_path / "photos"
    names = sorted(path.name for path in ffhq_256.glob("*.png"))
    for index, name in enumerate(names):
        image = Image.open(ffhq_256 / name).convert("RGB")
        kind = ("png", "jpg", "webp")[index % 3]
        _save(image, photos / f"person{index % 2}" / f"{Path(name).stem}.{kind}", kind.replace("jpg", "jpeg").upper(),
              **({"quality": 95} if kind == "jpg" else {"lossless": True} if kind == "webp" else {}))
    jpeg = (photos / "person1" / "00001.jpg").read_bytes()
    (photos / "person0" / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    files = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.*"))
    rows = [f"{name},{index % 2},{1 - index % 3 // 2}" for index, name in enumerate(files)]
    (tmp_path / "labels.csv").write_text("file,Smiling,Eyeglasses\n" + "\n".join(rows) + "\n")
    params = tiny_params_dict(resolution=32)
    params["data"]["celeba"].update(source="folder", folder=str(photos), attributes_file="labels.csv",
                                    crop="center_square", crop_size=256, max_bad_fraction=0.1)
    params["stargan"]["data"].update(attributes=["Smiling", "Eyeglasses"], image_size=16, test_count=3)
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
        assert np.array_equal(images[row], block_mean(original, 8)), manifest["files"][row]
    stargan = run_stage("prepare.py", "stargan", cwd=tmp_path)
    assert "packed 12 images (" in stargan.stdout and "at 16 px into data/prepared/stargan; skipped 1" in stargan.stdout
    prepared = load_stargan(tmp_path / "data/prepared/stargan")
    kept = [files.index(name) for name in prepared.manifest["files"]]
    assert prepared.labels.tolist() == [[index % 2, 1 - index % 3 // 2] for index in kept]
    assert np.array_equal(prepared.split, stargan_split(13, 3, params["stargan"]["data"]["split_seed"])[kept])
    # No attribute file: PGAN's stage still runs; StarGAN's says what to set.
    params["data"]["celeba"]["attributes_file"] = ""
    write_params(tmp_path / "params.yaml", params)
    run_stage("download.py", "celeba", cwd=tmp_path)
    assert "skipped 1" in run_stage("prepare.py", "celeba", cwd=tmp_path).stdout
    failed = run_stage("prepare.py", "stargan", cwd=tmp_path, check=False)
    assert failed.returncode == 2 and "set data.celeba.attributes_file to a CSV" in failed.stderr, failed.stderr
    assert load_stargan(tmp_path / "data/prepared/stargan").manifest == prepared.manifest  # the old output kept
