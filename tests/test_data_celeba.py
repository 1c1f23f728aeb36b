"""CelebA data layer: official formats, synthetic sample, sources, crop-and-pack."""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegan.data.celeba_format import (
    CELEBA_ATTRIBUTES,
    CelebAFormatError,
    read_attributes,
    read_partition,
    write_attributes,
    write_partition,
)
from facegan.data.celeba import (
    BadImagesError,
    crop_box,
    prepare_celeba,
    pyramid,
)
from conftest import FIXTURES, FIXTURES_ABSENT
from facegan.data.celeba_format import CELEBA_PARTITION
from facegan.data.prepared_celeba import load_prepared
from facegan.data.sources import CELEBA_REQUIRED, fetch_celeba, fetch_local
from facegan.data.synthetic import draw_face, official_like_partition, write_celeba_sample
from facegan.errors import UserError
from facegan.fetch import ChecksumError, DataSourceError, download_file

CELEBA_32 = FIXTURES / "celeba_aligned_32"
HALFRES = FIXTURES / "celeba_aligned_halfres_10k"
ALL_LAYOUT = {"img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"}


@pytest.fixture
def celeba_32() -> Path:
    if not (CELEBA_32 / "list_attr_celeba.txt").exists():
        pytest.skip(f"{FIXTURES_ABSENT} {CELEBA_32}")
    return CELEBA_32


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def no_leftovers(folder: Path) -> bool:
    """No staging folder or partial download was left behind."""
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".part")]


# ---------------------------------------------------------------- official text formats


def test_fixture_attributes_parse(celeba_32):
    names, files, values = read_attributes(celeba_32 / "list_attr_celeba.txt")
    assert tuple(names) == CELEBA_ATTRIBUTES and len(names) == 40
    assert files == [f"{i:06d}.jpg" for i in range(1, 33)]
    assert values.dtype == np.int8 and values.shape == (32, 40)
    assert set(np.unique(values)) == {-1, 1}
    assert list(values[0, :4]) == [-1, 1, 1, -1]  # "000001.jpg -1  1  1 -1 ..."


def test_write_attributes_reproduces_the_official_bytes(celeba_32, tmp_path):
    _, files, values = read_attributes(celeba_32 / "list_attr_celeba.txt")
    write_attributes(tmp_path / "attr.txt", files, values)
    assert (tmp_path / "attr.txt").read_bytes() == (celeba_32 / "list_attr_celeba.txt").read_bytes()


def test_attributes_round_trip(tmp_path):
    values = np.where(np.random.default_rng(0).random((7, 40)) < 0.3, 1, -1).astype(np.int8)
    files = [f"{i:06d}.jpg" for i in range(1, 8)]
    write_attributes(tmp_path / "attr.txt", files, values)
    names, files_back, values_back = read_attributes(tmp_path / "attr.txt")
    assert files_back == files and np.array_equal(values_back, values) and tuple(names) == CELEBA_ATTRIBUTES


def _small_attribute_lines(tmp_path: Path) -> list[str]:
    write_attributes(tmp_path / "good.txt", ["000001.jpg", "000002.jpg", "000003.jpg"], np.ones((3, 40), np.int8))
    return (tmp_path / "good.txt").read_text().splitlines()


@pytest.mark.parametrize(
    ("line", "edit", "expected"),
    [
        (1, lambda text: "4", "count line says 4"),
        (1, lambda text: "three", "expected the image count"),
        (2, lambda text: text.replace("Young", "Old"), "attribute names"),
        (4, lambda text: text.rsplit(" ", 1)[0], "40 values, found 40 columns"),
        (5, lambda text: text[:-1] + "0", "must be 1 or -1, found '0'"),
        (5, lambda text: text.replace("000003", "000001"), "listed twice"),
    ],
)
def test_malformed_attributes_name_the_line(tmp_path, line, edit, expected):
    lines = _small_attribute_lines(tmp_path)
    lines[line - 1] = edit(lines[line - 1])
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CelebAFormatError, match=expected) as error:
        read_attributes(path)
    assert error.value.line == line and f"{path}, line {line}:" in str(error.value)


def test_partition_round_trip_and_errors(tmp_path):
    partition = {"000001.jpg": 0, "000002.jpg": 1, "000003.jpg": 2}
    write_partition(tmp_path / "split.txt", partition)
    assert (tmp_path / "split.txt").read_text().splitlines()[0] == "000001.jpg 0"
    assert read_partition(tmp_path / "split.txt") == partition
    (tmp_path / "bad.txt").write_text("000001.jpg 0\n000002.jpg 3\n")
    with pytest.raises(CelebAFormatError, match="line 2: expected 'file split'"):
        read_partition(tmp_path / "bad.txt")


# ---------------------------------------------------------------- synthetic sample


def test_synthetic_sample_has_the_official_layout(tmp_path):
    write_celeba_sample(tmp_path / "celeba", 20, seed=3)
    root = tmp_path / "celeba"
    assert {p.name for p in root.iterdir()} == ALL_LAYOUT and no_leftovers(tmp_path)
    images = sorted((root / "img_align_celeba").iterdir())
    assert [p.name for p in images] == [f"{i:06d}.jpg" for i in range(1, 21)]
    for path in images[:5]:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (178, 218))
    names, files, values = read_attributes(root / "list_attr_celeba.txt")
    assert files == [p.name for p in images]
    partition = read_partition(root / "list_eval_partition.txt")
    assert list(partition) == files and list(partition.values()) == [0] * 16 + [1] * 2 + [2] * 2
    a = {name: values[:, i] == 1 for i, name in enumerate(names)}
    hair = a["Black_Hair"].astype(int) + a["Blond_Hair"] + a["Brown_Hair"] + a["Gray_Hair"]
    assert hair.max() <= 1
    assert not (a["No_Beard"] & a["Goatee"]).any() and a["No_Beard"][~a["Male"]].all()


def test_synthetic_sample_is_deterministic_per_image(tmp_path):
    write_celeba_sample(tmp_path / "a", 6, seed=7)
    write_celeba_sample(tmp_path / "b", 3, seed=7)
    write_celeba_sample(tmp_path / "c", 3, seed=8)
    for name in ("000001.jpg", "000003.jpg"):
        image = f"img_align_celeba/{name}"
        assert (tmp_path / "a" / image).read_bytes() == (tmp_path / "b" / image).read_bytes()
        assert (tmp_path / "a" / image).read_bytes() != (tmp_path / "c" / image).read_bytes()
    assert np.array_equal(
        read_attributes(tmp_path / "a" / "list_attr_celeba.txt")[2][:3],
        read_attributes(tmp_path / "b" / "list_attr_celeba.txt")[2],
    )


def _face(**flags: bool) -> np.ndarray:
    attributes = {name: False for name in CELEBA_ATTRIBUTES} | {"Young": True, "No_Beard": True} | flags
    return np.asarray(draw_face(attributes, np.random.default_rng(0)), np.float32)


def test_attributes_drive_visible_cues():
    hair = (slice(58, 70), slice(75, 104))  # top of the head, inside the crop box
    assert _face(Blond_Hair=True)[hair].mean() > _face(Black_Hair=True)[hair].mean() + 80
    smile = np.abs(_face(Smiling=True, Mouth_Slightly_Open=True) - _face()).mean(axis=2)
    assert smile[146:160, 72:106].mean() > 20 and smile[95:125].max() == 0  # mouth changes, eyes do not
    glasses = np.abs(_face(Eyeglasses=True) - _face()).mean(axis=2)
    assert glasses[100:125, 55:125].mean() > 5 and glasses[140:].max() == 0
    assert official_like_partition([str(i) for i in range(10)]) == dict.fromkeys("01234567", 0) | {"8": 1, "9": 2}


# ---------------------------------------------------------------- crop and reduce


def test_crop_box_matches_the_reference():
    left, top, right, bottom = crop_box(89, 121, 128)
    assert (left, top, right, bottom) == (25, 57, 153, 185)
    assert (left, right - 1, top, bottom - 1) == (25, 152, 57, 184)  # columns 25..152, rows 57..184
    assert crop_box(44.5, 60.5, 64) == (13, 29, 77, 93)  # half-resolution box, rounded half up


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """The reference for every prepared level: each `factor` x `factor` block's mean in float,
    rounded half to even as np.rint rounds; exact, since a block's sum and a power-of-two
    count are exact in float64 (and independent of the library's integer block sums)."""
    height, width, channels = image.shape
    blocks = image.reshape(height // factor, factor, width // factor, factor, channels)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)


def test_pyramid_is_the_exact_block_mean(celeba_32):
    image = np.asarray(Image.open(celeba_32 / "img_align_celeba" / "000001.jpg"))[57:185, 25:153]
    levels = pyramid(image[None], [4, 8, 16, 32, 64, 128])
    for factor in (2, 4, 32):
        assert np.array_equal(levels[128 // factor][0], block_mean(image, factor))
    official = image.astype(np.float32)  # dataset_tool.py: float running average, np.rint per level
    for res in (64, 32, 16, 8, 4):
        official = (official[0::2, 0::2] + official[0::2, 1::2] + official[1::2, 0::2] + official[1::2, 1::2]) * 0.25
        assert np.array_equal(levels[res][0], np.rint(official).clip(0, 255).astype(np.uint8))
    assert np.array_equal(levels[128][0], image)


# ---------------------------------------------------------------- prepare


def _raw_copy_with_bad_files(celeba_32: Path, raw: Path) -> None:
    """A real-format copy of the fixture with a truncated JPEG, a non-image and a wrong-size image."""
    shutil.copytree(celeba_32 / "img_align_celeba", raw / "img_align_celeba")  # copies: the test edits them
    shutil.copy(celeba_32 / "list_attr_celeba.txt", raw / "list_attr_celeba.txt")
    images = raw / "img_align_celeba"
    data = (images / "000005.jpg").read_bytes()
    (images / "000005.jpg").write_bytes(data[: len(data) // 2])
    (images / "000006.jpg").write_bytes(b"this is not a JPEG\n")
    buffer = BytesIO()
    Image.new("RGB", (100, 100), (128, 0, 0)).save(buffer, format="JPEG")
    (images / "000007.jpg").write_bytes(buffer.getvalue())
    write_partition(raw / CELEBA_PARTITION, official_like_partition([f"{i:06d}.jpg" for i in range(1, 33)]))


def test_prepare_skips_bad_images_and_packs_the_rest(celeba_32, tmp_path):
    _raw_copy_with_bad_files(celeba_32, tmp_path / "raw")
    manifest = prepare_celeba(tmp_path / "raw", tmp_path / "out", resolution=32, max_bad_fraction=0.1, workers=2)
    reasons = {entry["file"]: entry["reason"] for entry in manifest["skipped"]}
    assert set(reasons) == {"000005.jpg", "000006.jpg", "000007.jpg"}
    assert "truncated" in reasons["000005.jpg"] and reasons["000006.jpg"] == "not an image"
    assert reasons["000007.jpg"] == "size 100x100, expected 178x218"
    assert manifest["counts"] | {} == {"listed": 32, "kept": 29, "skipped": 3, "train": 23, "val": 3, "test": 3}
    assert manifest["resolutions"] == [4, 8, 16, 32] and no_leftovers(tmp_path)
    prepared = load_prepared(tmp_path / "out")
    kept = [int(name[:6]) - 1 for name in manifest["files"]]
    assert np.array_equal(prepared.attributes, read_attributes(celeba_32 / "list_attr_celeba.txt")[2][kept])
    crop = np.asarray(Image.open(celeba_32 / "img_align_celeba" / "000001.jpg"))[57:185, 25:153]
    for res in (4, 8, 16, 32):
        images = prepared.images(res)
        assert isinstance(images, np.memmap) and images.shape == (29, res, res, 3)
        assert np.array_equal(images[0], block_mean(crop, 128 // res))
    assert prepared.images(32, "test").shape == (3, 32, 32, 3) and isinstance(prepared.images(32, "val"), np.memmap)


def test_prepare_fails_on_too_many_bad_images_and_keeps_the_old_output(celeba_32, tmp_path):
    _raw_copy_with_bad_files(celeba_32, tmp_path / "raw")
    before = prepare_celeba(tmp_path / "raw", tmp_path / "out", resolution=8, max_bad_fraction=0.5)
    with pytest.raises(BadImagesError, match=r"max_bad_fraction = 0.05.*000005.jpg \(corrupt or truncated"):
        prepare_celeba(tmp_path / "raw", tmp_path / "out", resolution=8, max_bad_fraction=0.05)
    assert load_prepared(tmp_path / "out").manifest == before and no_leftovers(tmp_path)
    with pytest.raises(UserError, match="resolution = 12"):
        prepare_celeba(tmp_path / "raw", tmp_path / "out", resolution=12, max_bad_fraction=0.5)
    with pytest.raises(UserError, match="holds resolutions"):
        load_prepared(tmp_path / "out").images(16)


def test_photos_of_another_size_are_refused_with_the_settings_that_take_them(tmp_path):
    """A folder of photos that are not 178x218 (here the sample at 89x109): the refusal names
    data.celeba.image_size with their size and the crop settings, not max_bad_fraction alone."""
    write_celeba_sample(tmp_path / "raw", 6, seed=0)
    for path in (tmp_path / "raw" / "img_align_celeba").iterdir():
        Image.open(path).resize((89, 109)).save(path)
    with pytest.raises(BadImagesError, match=r"6 of them are of another size than data.celeba.image_size: for photos "
                                             r"of 89x109, set data.celeba.image_size: \[89, 109\] and a face box "
                                             r"inside them, data.celeba.crop_center and crop_size"):
        prepare_celeba(tmp_path / "raw", tmp_path / "out", resolution=8, max_bad_fraction=0.0)
    manifest = prepare_celeba(tmp_path / "raw", tmp_path / "out", crop_center=(44.5, 60.5), crop_size=64,
                              resolution=8, max_bad_fraction=0.0, image_size=(89, 109))
    assert manifest["counts"]["kept"] == 6
    # Mostly damaged files and one of another size: the size is no answer, and no hint names it.
    images = tmp_path / "raw" / "img_align_celeba"
    for name in ("000002.jpg", "000003.jpg"):
        (images / name).write_bytes(b"not a jpeg")
    Image.open(images / "000004.jpg").resize((90, 110)).save(images / "000004.jpg")
    with pytest.raises(BadImagesError) as refused:
        prepare_celeba(tmp_path / "raw", tmp_path / "out", crop_center=(44.5, 60.5), crop_size=64, resolution=8,
                       max_bad_fraction=0.0, image_size=(89, 109))
    said = str(refused.value)
    assert said.endswith("or raise data.celeba.max_bad_fraction.") and "image_size:" not in said


def halfres_raw(raw: Path, count: int = 16) -> Path:
    """The first `count` half-resolution (89x109) fixture faces in the download stage's layout."""
    if not (HALFRES / "list_attr_celeba.txt").exists():
        pytest.skip(f"{FIXTURES_ABSENT} {HALFRES}")
    _, files, values = read_attributes(HALFRES / "list_attr_celeba.txt")
    write_attributes(raw / "list_attr_celeba.txt", files[:count], values[:count])
    write_partition(raw / CELEBA_PARTITION, dict.fromkeys(files[:count], 0))
    (raw / "img_align_celeba").mkdir()
    for name in files[:count]:
        shutil.copy(HALFRES / "img_align_celeba" / name, raw / "img_align_celeba" / name)
    return raw


def test_prepare_half_resolution_fixture(tmp_path):
    raw = halfres_raw(tmp_path / "raw")
    manifest = prepare_celeba(
        raw, tmp_path / "out", crop_center=(44.5, 60.5), crop_size=64, resolution=16,
        max_bad_fraction=0.0, image_size=(89, 109),
    )  # fmt: skip
    assert manifest["crop"]["box"] == [13, 29, 77, 93] and manifest["counts"]["kept"] == 16
    assert load_prepared(tmp_path / "out").images(16).shape == (16, 16, 16, 3)


# ---------------------------------------------------------------- sources


def test_fetch_local_brings_the_fixture(celeba_32, tmp_path):
    fetch_celeba("local", tmp_path / "raw", count=0, seed=0, local_dir=celeba_32)
    raw = tmp_path / "raw"
    assert {p.name for p in raw.iterdir()} == ALL_LAYOUT and no_leftovers(tmp_path)
    assert len(list((raw / "img_align_celeba").iterdir())) == 32
    assert md5(raw / "img_align_celeba" / "000032.jpg") == md5(celeba_32 / "img_align_celeba" / "000032.jpg")
    assert set(read_partition(raw / CELEBA_PARTITION).values()) == {0}  # none given: all train


def test_fetch_local_says_what_is_missing(celeba_32, tmp_path):
    with pytest.raises(DataSourceError, match="lacks list_bbox_celeba.txt.*data.celeba.local_dir"):
        fetch_local(celeba_32, tmp_path / "raw", [*CELEBA_REQUIRED, "list_bbox_celeba.txt"])
    with pytest.raises(DataSourceError, match="does not exist: set data.celeba.local_dir"):
        fetch_local(tmp_path / "nowhere", tmp_path / "raw", CELEBA_REQUIRED)
    with pytest.raises(DataSourceError, match="local_dir is empty"):
        fetch_celeba("local", tmp_path / "raw", count=0, seed=0, local_dir="")
    with pytest.raises(DataSourceError, match="must be one of 'sample', 'local', 'official'"):
        fetch_celeba("kaggle", tmp_path / "raw", count=0, seed=0, local_dir=None)
    assert not (tmp_path / "raw").exists()


def test_download_file_checks_md5(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"celeba" * 1000)
    done = download_file(source.as_uri(), tmp_path / "dl" / "file.bin", md5(source))
    assert done.read_bytes() == source.read_bytes() and no_leftovers(tmp_path / "dl")
    with pytest.raises(ChecksumError, match=f"other.bin: cannot fetch it from file://.*: md5 {md5(source)} does not "
                                            "match the expected 0+; nothing was kept"):
        download_file(source.as_uri(), tmp_path / "dl" / "other.bin", "0" * 32)
    assert not (tmp_path / "dl" / "other.bin").exists() and no_leftovers(tmp_path / "dl")
    with pytest.raises(DataSourceError, match="x: cannot fetch it from file://"):
        download_file((tmp_path / "absent").as_uri(), tmp_path / "dl" / "x", None)


def test_fetch_official_downloads_and_unpacks(tmp_path):
    write_celeba_sample(tmp_path / "origin", 4, seed=1)
    origin = tmp_path / "origin"
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as archive:
        for path in sorted((origin / "img_align_celeba").iterdir()):
            archive.write(path, f"img_align_celeba/{path.name}")
    files = {"img_align_celeba.zip": tmp_path / "img_align_celeba.zip"}
    files |= {name: origin / name for name in ("list_attr_celeba.txt", "list_eval_partition.txt")}
    urls = {name: (path.as_uri(), md5(path)) for name, path in files.items()}
    fetch_celeba("official", tmp_path / "raw", count=0, seed=0, local_dir=None, urls=urls)
    raw = tmp_path / "raw"
    assert {p.name for p in raw.iterdir()} == ALL_LAYOUT
    for name in ("img_align_celeba/000004.jpg", "list_attr_celeba.txt", "list_eval_partition.txt"):
        assert (raw / name).read_bytes() == (origin / name).read_bytes()


def test_fetch_official_refuses_unsafe_zip_members(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../escaped.txt", "x")
    urls = {"img_align_celeba.zip": ((tmp_path / "evil.zip").as_uri(), None)}
    with pytest.raises(DataSourceError, match="unsafe member path '../escaped.txt'"):
        fetch_celeba("official", tmp_path / "raw", count=0, seed=0, local_dir=None, urls=urls)
    assert not (tmp_path / "raw").exists() and not (tmp_path.parent / "escaped.txt").exists()
