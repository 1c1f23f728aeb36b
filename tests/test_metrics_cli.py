"""`facegan metrics swd|ms-ssim` on folders: JSON on stdout, clear errors with exit code 2."""
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facegan.imagefolder import ImageFolderError, iter_image_batches, list_images
from facegan.metrics import METRICS, compute, register_metric
from facegan.metrics.cli import metrics_app
from facegan.metrics.ms_ssim import ms_ssim
from facegan.metrics.swd import sliced_wasserstein


def images(n, size, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def write_folder(folder, array, suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(array):
        Image.fromarray(image).save(folder / f"img{index:03d}{suffix}")
    return folder


def invoke(*args):
    # Wide, so that Typer's boxed usage errors keep long temporary paths on one line.
    return CliRunner().invoke(metrics_app, [str(a) for a in args], env={"COLUMNS": "1000"})


def test_swd_prints_json_equal_to_the_library(tmp_path):
    real, fake = images(6, 32, 1), images(6, 32, 2)
    result = invoke("swd", write_folder(tmp_path / "r", real), write_folder(tmp_path / "f", fake),
                    "--seed", 3, "--batch-size", 4)
    assert result.exit_code == 0, result.output
    expected = sliced_wasserstein([real], [fake], seed=3)
    assert json.loads(result.stdout) == {"swd": pytest.approx(expected, rel=1e-6)}
    assert set(expected) == {"32", "16", "avg"}


def test_swd_limit_and_unequal_counts(tmp_path):
    real, fake = images(5, 16, 1), images(3, 16, 2)
    real_dir, fake_dir = write_folder(tmp_path / "r", real), write_folder(tmp_path / "f", fake)
    result = invoke("swd", real_dir, fake_dir, "--limit", 2)
    assert json.loads(result.stdout)["swd"] == pytest.approx(sliced_wasserstein([real[:2]], [fake[:2]], seed=0))
    result = invoke("swd", real_dir, fake_dir)
    assert "using the first 3 of each" in result.stderr
    assert json.loads(result.stdout)["swd"] == pytest.approx(sliced_wasserstein([real[:3]], [fake], seed=0))


def test_ms_ssim_prints_json_equal_to_the_library(tmp_path):
    array = images(7, 32, 4)
    result = invoke("ms-ssim", write_folder(tmp_path / "d", array), "--batch-size", 3)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ms_ssim": pytest.approx(ms_ssim([array]), rel=1e-12)}


def test_empty_folder_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    result = invoke("ms-ssim", tmp_path / "empty")
    assert result.exit_code == 2
    assert "no PNG or JPEG images" in result.stderr


def test_missing_folder_fails_clearly(tmp_path):
    result = invoke("swd", tmp_path / "nope", tmp_path / "nope")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_mismatched_sizes_in_a_folder_name_the_file(tmp_path):
    folder = write_folder(tmp_path / "d", images(3, 32, 1))
    Image.fromarray(images(1, 16, 2)[0]).save(folder / "img999.png")
    result = invoke("ms-ssim", folder)
    assert result.exit_code == 2
    assert "img999.png is 16x16" in result.stderr


def test_real_and_fake_sizes_must_match(tmp_path):
    result = invoke("swd", write_folder(tmp_path / "r", images(2, 32, 1)), write_folder(tmp_path / "f", images(2, 16, 1)))
    assert result.exit_code == 2
    assert "real images are 32x32 but fake images are 16x16" in result.stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_file_is_named(tmp_path, damage):
    folder = write_folder(tmp_path / "d", images(3, 32, 1))
    bad = folder / "img001.png"
    data = bad.read_bytes()
    # "truncated" keeps a valid header, so it fails while decoding, during the metric.
    bad.write_bytes(b"not a png" if damage == "garbage" else data[: len(data) // 2])
    result = invoke("ms-ssim", folder)
    assert result.exit_code == 2
    assert "cannot read image" in result.stderr and "img001.png" in result.stderr


def test_too_small_images_fail_clearly(tmp_path):
    result = invoke("ms-ssim", write_folder(tmp_path / "d", images(2, 8, 1)))
    assert result.exit_code == 2
    assert "at least 16x16" in result.stderr


def test_bad_device_fails_clearly(tmp_path):
    folder = write_folder(tmp_path / "d", images(2, 16, 1))
    result = invoke("ms-ssim", folder, "--device", "nonsense")
    assert result.exit_code == 2
    assert "invalid --device 'nonsense'" in result.stderr


def test_list_images_filters_and_sorts_by_name(tmp_path):
    write_folder(tmp_path, images(2, 8, 1), ".PNG")
    write_folder(tmp_path / "sub", images(1, 8, 1))
    Image.fromarray(images(1, 8, 2)[0]).convert("L").save(tmp_path / "a.jpeg")
    (tmp_path / "b.txt").write_text("")
    paths = list_images(tmp_path)
    assert [p.name for p in paths] == ["a.jpeg", "img000.PNG", "img001.PNG"]
    batches = list(iter_image_batches(paths, 2))
    assert [b.shape for b in batches] == [(2, 8, 8, 3), (1, 8, 8, 3)]  # grey converted to RGB
    with pytest.raises(ImageFolderError, match="not a folder"):
        list_images(tmp_path / "missing")


def test_registry_dispatches_by_name():
    array = images(4, 16, 1)
    assert compute("ms_ssim", batches=[array]) == {"ms_ssim": ms_ssim([array])}
    assert compute("swd", real_batches=[array], fake_batches=[array], seed=1)["swd"].keys() == {"16", "avg"}
    with pytest.raises(ValueError, match="unknown metric 'fid'"):
        compute("fid")
    with pytest.raises(ValueError, match="already registered"):
        register_metric("swd")(lambda: {})
    assert {"swd", "ms_ssim"} <= METRICS.keys()
