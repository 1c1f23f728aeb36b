"""StarGAN's CelebA: attribute labels, the official seeded split, centre crop + resize, the stage."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import test_data_celeba
from conftest import run_stage, tiny_params_dict, write_params
from PIL import Image
from test_data_celeba import HALFRES, _raw_copy_with_bad_files, halfres_raw, no_leftovers

from facegan.choices import CELEBA_ATTRIBUTES
from facegan.data.celeba import BadImagesError, MissingImagesError, crop_box, prepare_celeba
from facegan.data.celeba_format import CELEBA_PARTITION, attribute_columns, read_attributes, write_partition
from facegan.stargan.data import (
    attribute_labels,
    center_crop_center,
    load_stargan,
    prepare_stargan,
    stargan_split,
)
from facegan.data.synthetic import official_like_partition
from facegan.errors import UserError
from facegan.stargan.params import StarGANData

celeba_32 = test_data_celeba.celeba_32  # the fixture: skips when ../shared/fixtures is absent

FIVE = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
STARGAN_BOX = (0, 20, 178, 198)  # CenterCrop(178) on 178x218: top = round((218 - 178) / 2)


def stargan_data(**changes) -> StarGANData:
    return StarGANData(**{"attributes": FIVE, "crop_size": 178, "image_size": 32, "test_count": 8,
                          "split_seed": 1234} | changes)  # fmt: skip


def raw_copy(source: Path, raw: Path) -> Path:
    """The fixture in the download stage's layout (which always has a partition file)."""
    shutil.copytree(source / "img_align_celeba", raw / "img_align_celeba")
    shutil.copy(source / "list_attr_celeba.txt", raw / "list_attr_celeba.txt")
    _, files, _ = read_attributes(raw / "list_attr_celeba.txt")
    write_partition(raw / CELEBA_PARTITION, official_like_partition(files))
    return raw


def reference_image(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.crop(STARGAN_BOX).resize((size, size), Image.Resampling.BILINEAR))


# ---------------------------------------------------------------- attributes


def test_fixture_labels_of_the_five_attributes(celeba_32):
    lines = (celeba_32 / "list_attr_celeba.txt").read_text().splitlines()
    columns = [lines[1].split().index(name) for name in FIVE]
    expected = [[1.0 if row.split()[1 + column] == "1" else 0.0 for column in columns] for row in lines[2:]]
    _, files, values = read_attributes(celeba_32 / "list_attr_celeba.txt")
    labels = attribute_labels(values, FIVE)
    assert labels.dtype == np.float32 and labels.shape == (32, 5)
    assert np.array_equal(labels, np.array(expected, np.float32))
    assert attribute_columns(FIVE) == [8, 9, 11, 20, 39]
    assert np.array_equal(attribute_labels(values, ["Young", "Male"]), labels[:, [4, 3]])  # params order


def test_unknown_attribute_is_rejected_by_name(tmp_path):
    with pytest.raises(UserError, match="'Purple_Hair' not CelebA attribute.*known ones are 5_o_Clock_Shadow,.*Young"):
        attribute_columns(["Black_Hair", "Purple_Hair"])
    with pytest.raises(UserError, match="distinct"):
        attribute_columns(["Male", "Male"])
    with pytest.raises(UserError, match="Purple_Hair"):  # checked before anything is read
        prepare_stargan(tmp_path / "nowhere", tmp_path / "out", stargan_data(attributes=["Purple_Hair"]),
                        max_bad_fraction=0.0)  # fmt: skip
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- split


@pytest.mark.parametrize(("count", "test_count", "seed"), [(50, 10, 1234), (202_599, 1_999, 1234), (7, 3, 0)])
def test_split_is_the_official_shuffle(count, test_count, seed):
    state = random.getstate()
    split = stargan_split(count, test_count, seed)
    assert random.getstate() == state  # global generator untouched
    rows = [f"{i + 1:06d}.jpg  1 -1 ..." for i in range(count)]  # the official code shuffles the text lines
    random.seed(seed)
    random.shuffle(rows)
    random.setstate(state)
    test = {int(line[:6]) - 1 for i, line in enumerate(rows) if (i + 1) < test_count + 1}
    assert split.dtype == np.uint8 and split.shape == (count,) and int(split.sum()) == test_count
    assert set(np.flatnonzero(split == 1)) == test and set(np.unique(split)) <= {0, 1}
    assert np.array_equal(split, stargan_split(count, test_count, seed))


def test_split_depends_on_the_seed():
    assert not np.array_equal(stargan_split(1000, 100, 1234), stargan_split(1000, 100, 1235))
    assert stargan_split(5, 10, 0).tolist() == [1] * 5  # fewer rows than test_count: all test, as officially


# ---------------------------------------------------------------- crop


def test_center_crop_is_torchvisions():
    assert crop_box(*center_crop_center((178, 218), 178), 178) == STARGAN_BOX
    for side in (177, 170, 161, 64):  # odd margins: torchvision rounds half to even
        left, top = round((178 - side) / 2), round((218 - side) / 2)
        assert crop_box(*center_crop_center((178, 218), side), side) == (left, top, left + side, top + side)


def test_pil_pipeline_matches_torchvision(celeba_32):
    transforms = pytest.importorskip("torchvision.transforms")
    pipeline = transforms.Compose([transforms.CenterCrop(178), transforms.Resize(32)])  # the official transform
    for name in ("000001.jpg", "000017.jpg"):
        with Image.open(celeba_32 / "img_align_celeba" / name) as image:
            official = np.asarray(pipeline(image))
        assert np.array_equal(official, reference_image(celeba_32 / "img_align_celeba" / name, 32))


# ---------------------------------------------------------------- prepare and load


def test_prepare_stargan_on_the_fixture(celeba_32, tmp_path):
    raw = raw_copy(celeba_32, tmp_path / "raw")
    manifest = prepare_stargan(raw, tmp_path / "out", stargan_data(), max_bad_fraction=0.0, workers=2)
    prepared = load_stargan(tmp_path / "out")
    assert isinstance(prepared.images, np.memmap) and prepared.images.shape == (32, 32, 32, 3)
    for index in range(32):
        expected = reference_image(celeba_32 / "img_align_celeba" / f"{index + 1:06d}.jpg", 32)
        assert np.array_equal(prepared.images[index], expected), index
    _, _, values = read_attributes(celeba_32 / "list_attr_celeba.txt")
    assert prepared.labels.dtype == np.float32 and np.array_equal(prepared.labels, attribute_labels(values, FIVE))
    assert np.array_equal(prepared.split, stargan_split(32, 8, 1234)) and prepared.split.dtype == np.uint8
    assert len(prepared.indices("train")) == 24 and set(prepared.indices("test")) == set(np.flatnonzero(prepared.split))
    assert prepared.attribute_names == FIVE
    assert manifest["resolutions"] == [32] and manifest["crop"]["box"] == list(STARGAN_BOX)
    assert manifest["crop"]["resize"] == {"size": 32, "filter": "bilinear (PIL)"}
    assert manifest["stargan"] == {"attributes": FIVE, "split_seed": 1234, "test_count": 8,
                                   "split_counts": {"train": 24, "test": 8}}  # fmt: skip
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    assert manifest["counts"]["kept"] == 32 and manifest["skipped"] == [] and no_leftovers(tmp_path)
    with pytest.raises(ValueError, match="one of"):
        prepared.indices("val")


def test_bad_files_drop_their_rows_from_labels_and_split(celeba_32, tmp_path):
    _raw_copy_with_bad_files(celeba_32, tmp_path / "raw")  # 000005 truncated, 000006 not an image, 000007 100x100
    manifest = prepare_stargan(tmp_path / "raw", tmp_path / "out", stargan_data(test_count=10), max_bad_fraction=0.1)
    assert [entry["file"] for entry in manifest["skipped"]] == ["000005.jpg", "000006.jpg", "000007.jpg"]
    kept = [row for row in range(32) if row not in (4, 5, 6)]
    assert manifest["files"] == [f"{row + 1:06d}.jpg" for row in kept]
    prepared = load_stargan(tmp_path / "out")
    _, _, values = read_attributes(celeba_32 / "list_attr_celeba.txt")
    assert np.array_equal(prepared.labels, attribute_labels(values, FIVE)[kept])
    assert np.array_equal(prepared.split, stargan_split(32, 10, 1234)[kept])  # drawn over all 32 rows
    split_counts = manifest["stargan"]["split_counts"]
    assert split_counts == {"train": int((prepared.split == 0).sum()), "test": int(prepared.split.sum())}
    assert sum(split_counts.values()) == 29 and prepared.images.shape == (29, 32, 32, 3)
    assert np.array_equal(prepared.images[4], reference_image(celeba_32 / "img_align_celeba" / "000008.jpg", 32))
    with pytest.raises(BadImagesError, match="max_bad_fraction = 0.05"):
        prepare_stargan(tmp_path / "raw", tmp_path / "out", stargan_data(), max_bad_fraction=0.05)
    assert load_stargan(tmp_path / "out").manifest == manifest and no_leftovers(tmp_path)  # old output kept


def test_missing_images_are_named_with_their_line(celeba_32, tmp_path):
    raw = raw_copy(celeba_32, tmp_path / "raw")
    (raw / "img_align_celeba" / "000005.jpg").unlink()
    (raw / "img_align_celeba" / "000030.jpg").unlink()
    lines = (raw / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[7 - 1].startswith("000005.jpg") and lines[32 - 1].startswith("000030.jpg")
    expected = r"lists 2 of 32 images.*line 7 \(000005.jpg\), line 32 \(000030.jpg\)\. Re-download.*remove their rows"
    for prepare in (
        lambda: prepare_stargan(raw, tmp_path / "out", stargan_data(), max_bad_fraction=1.0),
        lambda: prepare_celeba(raw, tmp_path / "out", resolution=8, max_bad_fraction=1.0),  # PGAN: the same check
    ):
        with pytest.raises(MissingImagesError, match=expected) as error:
            prepare()
        assert error.value.missing == [(7, "000005.jpg"), (32, "000030.jpg")]
        assert not (tmp_path / "out").exists() and no_leftovers(tmp_path)
    for name in ("000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg", "000006.jpg"):
        (raw / "img_align_celeba" / name).unlink()
    shown = r"lists 7 of 32.*: line 3 \(000001.jpg\), .*line 7 \(000005.jpg\) and 2 more\."
    with pytest.raises(MissingImagesError, match=shown):
        prepare_celeba(raw, tmp_path / "out", resolution=8, max_bad_fraction=1.0)


def test_prepare_stargan_checks_its_params(celeba_32, tmp_path):
    raw = raw_copy(celeba_32, tmp_path / "raw")
    with pytest.raises(UserError, match="test_count = 32 leaves none of the 32"):
        prepare_stargan(raw, tmp_path / "out", stargan_data(test_count=32), max_bad_fraction=0.0)
    with pytest.raises(UserError, match="crop_size = 200 does not fit the 178x218"):
        prepare_stargan(raw, tmp_path / "out", stargan_data(crop_size=200), max_bad_fraction=0.0)
    assert not (tmp_path / "out").exists()


def test_prepare_stargan_takes_the_aligned_image_size(tmp_path):
    """A local CelebA at half resolution (89x109): data.celeba.image_size reaches StarGAN's
    prepare as it reaches PGAN's; the centre crop is torchvision's on that size."""
    raw = halfres_raw(tmp_path / "raw")
    data = stargan_data(crop_size=89, image_size=16, test_count=4)
    with pytest.raises(UserError):  # the default 178x218: every image has the wrong size
        prepare_stargan(raw, tmp_path / "default", data, max_bad_fraction=0.0)
    manifest = prepare_stargan(raw, tmp_path / "out", data, max_bad_fraction=0.0, image_size=(89, 109))
    assert manifest["crop"]["box"] == [0, 10, 89, 99] and manifest["counts"]["kept"] == 16
    with Image.open(HALFRES / "img_align_celeba" / "000001.jpg") as image:
        expected = np.asarray(image.crop((0, 10, 89, 99)).resize((16, 16), Image.Resampling.BILINEAR))
    assert np.array_equal(load_stargan(tmp_path / "out").images[0], expected)


def test_load_stargan_says_to_run_prepare(celeba_32, tmp_path):
    with pytest.raises(UserError, match=r"manifest.json is missing: run the prepare_stargan stage \(dvc repro prepare_stargan\)"):
        load_stargan(tmp_path / "absent")
    raw = raw_copy(celeba_32, tmp_path / "raw")
    prepare_celeba(raw, tmp_path / "pgan", resolution=8, max_bad_fraction=0.0)
    with pytest.raises(UserError, match="not prepared for StarGAN: run the prepare_stargan stage"):
        load_stargan(tmp_path / "pgan")
    prepare_stargan(raw, tmp_path / "out", stargan_data(image_size=16), max_bad_fraction=0.0)
    (tmp_path / "out" / "labels.npy").unlink()
    with pytest.raises(UserError, match=r"lacks labels.npy: run the prepare_stargan stage \(dvc repro prepare_stargan\) first"):
        load_stargan(tmp_path / "out")


# ---------------------------------------------------------------- the stage


@pytest.mark.slow
def test_prepare_stage_stargan(celeba_32, tmp_path):
    params = tiny_params_dict()
    params["data"]["celeba"].update(source="local", local_dir=str(celeba_32))
    params["stargan"]["data"].update(image_size=16, test_count=4)
    write_params(tmp_path / "params.yaml", params)
    run_stage("download.py", "celeba", cwd=tmp_path)  # the fixture into data/raw/celeba, as DVC would
    result = run_stage("prepare.py", "stargan", cwd=tmp_path)
    assert "packed 32 images (28 train, 4 test) at 16 px into data/prepared/stargan; skipped 0" in result.stdout
    prepared = load_stargan(tmp_path / "data/prepared/stargan")
    assert prepared.images.shape == (32, 16, 16, 3) and prepared.attribute_names == FIVE
    assert np.array_equal(prepared.split, stargan_split(32, 4, params["stargan"]["data"]["split_seed"]))
    params["stargan"]["data"]["test_count"] = 40
    write_params(tmp_path / "params.yaml", params)
    failed = run_stage("prepare.py", "stargan", cwd=tmp_path, check=False)
    assert failed.returncode == 2 and "error: stargan.data.test_count = 40 leaves none" in failed.stderr
    assert load_stargan(tmp_path / "data/prepared/stargan").manifest == prepared.manifest


def test_all_celeba_attribute_names_are_known():
    assert attribute_columns(list(CELEBA_ATTRIBUTES)) == list(range(40))
