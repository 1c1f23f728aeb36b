"""FFHQ sources (sample, local, official with checksums) and the split by folder ranges."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, FIXTURES_ABSENT, tiny_params_dict, write_params
from facegan.data.ffhq import fetch_ffhq, folder_range_ids, list_raw_ffhq, relative_path, select_splits
from facegan.fetch import ChecksumError, DataSourceError
from facegan.params import ParamsError
from facegan.params_file import load_params

FFHQ_FIXTURE = FIXTURES / "ffhq_256_12"
needs_fixture = pytest.mark.skipif(not FFHQ_FIXTURE.exists(), reason=f"{FIXTURES_ABSENT} {FFHQ_FIXTURE}")
RANGES = {"train": [0, 0], "test": [65000, 65000]}
IDS = [i for folders in RANGES.values() for i in folder_range_ids(folders)]


def _fetch(source, dst, **kwargs):
    options = dict(per_folder=3, sample_size=64, seed=0, local_dir=None) | kwargs
    fetch_ffhq(source, dst, IDS, **options)


def test_folder_layout():
    assert relative_path(0) == "00000/00000.png" and relative_path(65999) == "65000/65999.png"
    assert list(folder_range_ids([0, 1000])) == list(range(2000))
    assert folder_range_ids([69000, 69000])[-1] == 69999


def test_sample_is_deterministic_per_image_and_in_the_official_layout(tmp_path):
    _fetch("sample", tmp_path / "a")
    _fetch("sample", tmp_path / "b", per_folder=1)
    found = list_raw_ffhq(tmp_path / "a")
    assert sorted(found) == [0, 1, 2, 65000, 65001, 65002]
    assert found[65001] == tmp_path / "a" / "65000" / "65001.png"
    image = Image.open(found[65000])
    assert image.size == (64, 64) and image.mode == "RGB"
    # Image i does not depend on how many were asked for.
    assert (tmp_path / "b/65000/65000.png").read_bytes() == found[65000].read_bytes()
    assert found[0].read_bytes() != found[1].read_bytes()


@needs_fixture
def test_local_takes_a_flat_folder_and_keeps_only_the_selected_ids(tmp_path):
    _fetch("local", tmp_path / "raw", local_dir=FFHQ_FIXTURE)
    found = list_raw_ffhq(tmp_path / "raw")
    assert sorted(found) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15]
    assert (tmp_path / "raw/00000/00014.png").read_bytes() == (FFHQ_FIXTURE / "00014.png").read_bytes()
    with pytest.raises(DataSourceError, match="holds no FFHQ image"):
        fetch_ffhq("local", tmp_path / "none", [65000], per_folder=1, sample_size=64, seed=0, local_dir=FFHQ_FIXTURE)
    with pytest.raises(DataSourceError, match="local_dir is empty"):
        _fetch("local", tmp_path / "x")


def _metadata(tmp_path, ids, corrupt=None) -> tuple[str, str]:
    """An ffhq-dataset-v2.json in the official shape whose URLs are local files."""
    entries = {}
    for image_id in ids:
        path = tmp_path / "remote" / f"{image_id:05d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), image_id % 251, np.uint8)).save(path)
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        entries[str(image_id)] = {"category": "training", "image": {
            "file_url": path.as_uri(), "file_path": f"images1024x1024/{relative_path(image_id)}",
            "file_md5": "0" * 32 if image_id == corrupt else md5}}
    listing = tmp_path / "remote" / "ffhq-dataset-v2.json"
    listing.write_text(json.dumps(entries))
    return listing.as_uri(), hashlib.md5(listing.read_bytes()).hexdigest()


def test_official_downloads_the_listed_images_with_their_md5(tmp_path):
    ids = [0, 1, 65000]
    fetch_ffhq("official", tmp_path / "raw", ids, per_folder=1, sample_size=64, seed=0, local_dir=None,
               metadata=_metadata(tmp_path, ids))
    assert sorted(list_raw_ffhq(tmp_path / "raw")) == ids
    assert (tmp_path / "raw" / "ffhq-dataset-v2.json").exists()


def test_official_with_a_bad_checksum_fails_and_leaves_nothing(tmp_path):
    ids = [0, 1]
    with pytest.raises(ChecksumError, match="00001.png: md5"):
        fetch_ffhq("official", tmp_path / "raw", ids, per_folder=1, sample_size=64, seed=0, local_dir=None,
                   metadata=_metadata(tmp_path, ids, corrupt=1))
    assert not (tmp_path / "raw").exists() and not list(tmp_path.glob(".raw*"))


def test_select_splits_by_folder_range(tmp_path):
    _fetch("sample", tmp_path / "raw")
    splits = select_splits(tmp_path / "raw", RANGES)
    assert list(splits["train"]) == ["00000", "00001", "00002"] and list(splits["test"]) == ["65000", "65001", "65002"]
    with pytest.raises(DataSourceError, match="no FFHQ image in the test folders 69000-69000"):
        select_splits(tmp_path / "raw", {"train": [0, 0], "test": [69000, 69000]})


@pytest.mark.parametrize("change, message", [
    ({"train_folders": [0, 65000]}, "overlap"),
    ({"test_folders": [65500, 69000]}, "multiples of 1000"),
    ({"test_folders": [69000, 65000]}, "first <= last"),
    ({"source": "ftp"}, "data.ffhq.source = 'ftp'"),
])
def test_bad_ffhq_params_are_rejected_by_key(tmp_path, change, message):
    params = tiny_params_dict()
    params["data"]["ffhq"].update(change)
    with pytest.raises(ParamsError, match=message):
        load_params(write_params(tmp_path / "params.yaml", params))


def test_a_checksum_may_be_the_published_prefix_of_at_least_8_digits(tmp_path):
    from facegan.fetch import verify_checksum

    path = tmp_path / "weights.pth"
    path.write_bytes(b"some weights")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    verify_checksum(path, digest, "sha256")
    verify_checksum(path, digest[:8].upper(), "sha256")  # torchvision's file-name convention
    for wrong in ("0" * 8, digest[:7]):  # another prefix; too short to mean anything
        with pytest.raises(ChecksumError):
            verify_checksum(path, wrong, "sha256")
