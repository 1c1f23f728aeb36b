"""`facegan metrics ...` on folders: JSON on stdout, clear errors with exit code 2.
(FID's command is tested in test_metrics_fid.py, beside its network.)"""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facegan.cli.metrics import metrics_app
from facegan.images import ImageFolderError, iter_image_batches, list_images, paired_images, select_images
from facegan.metrics.ms_ssim import ms_ssim
from facegan.metrics.psnr_ssim import psnr_ssim
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
    assert json.loads(result.stdout) == {"swd": pytest.approx(expected, rel=1e-6), "images": {"real": 6, "fake": 6}}
    assert set(expected) == {"32", "16", "avg"}


def test_swd_of_a_folder_against_itself_is_its_sampling_floor_not_zero(tmp_path):
    """Patches are drawn independently per set: the same images give a floor that shrinks with the count."""
    floors = {}
    for count in (4, 32):
        folder = write_folder(tmp_path / str(count), images(count, 32, 5))
        result = invoke("swd", folder, folder)
        floors[count] = json.loads(result.stdout)["swd"]["avg"]
        assert json.loads(result.stdout)["images"] == {"real": count, "fake": count}
    assert 0 < floors[32] < floors[4]
    help_text = CliRunner().invoke(metrics_app, ["swd", "--help"], env={"COLUMNS": "200"}).stdout
    assert "do not give 0" in help_text and "real-vs-real" in help_text


def subset(array, limit, seed):
    """The rows `select_images` picks, in order."""
    indices = [int(p.stem) for p in select_images([Path(f"{i}") for i in range(len(array))], limit, seed)]
    return array[indices]


def test_select_images_is_a_seeded_sorted_subset():
    paths = [Path(f"img{i:02d}.png") for i in range(20)]
    picked = select_images(paths, 5, seed=1)
    assert len(picked) == 5 and picked == sorted(picked) and picked == select_images(paths, 5, seed=1)
    assert picked != select_images(paths, 5, seed=2) and picked != paths[:5]
    assert select_images(paths, None, 0) == select_images(paths, 50, 0) == paths


def test_swd_limit_and_unequal_counts(tmp_path):
    real, fake = images(5, 16, 1), images(3, 16, 2)
    real_dir, fake_dir = write_folder(tmp_path / "r", real), write_folder(tmp_path / "f", fake)
    result = invoke("swd", real_dir, fake_dir, "--limit", 2, "--seed", 4)
    expected = sliced_wasserstein([subset(real, 2, 4)], [subset(fake, 2, 4)], seed=4)
    assert json.loads(result.stdout)["swd"] == pytest.approx(expected)
    result = invoke("swd", real_dir, fake_dir)
    assert "using 3 of each, drawn with --seed" in result.stderr
    assert json.loads(result.stdout)["swd"] == pytest.approx(sliced_wasserstein([subset(real, 3, 0)], [fake], seed=0))


def test_ms_ssim_prints_json_equal_to_the_library(tmp_path):
    array = images(7, 32, 4)
    result = invoke("ms-ssim", write_folder(tmp_path / "d", array), "--batch-size", 3)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ms_ssim": pytest.approx(ms_ssim([array]), rel=1e-12)}


def test_ms_ssim_limit_takes_a_seeded_subset(tmp_path):
    array = images(8, 16, 5)
    result = invoke("ms-ssim", write_folder(tmp_path / "d", array), "--limit", 4, "--seed", 3)
    assert json.loads(result.stdout) == {"ms_ssim": pytest.approx(ms_ssim([subset(array, 4, 3)]), rel=1e-12)}


def test_psnr_ssim_pairs_by_name_and_equals_the_library(tmp_path):
    clean = images(5, 16, 1)
    restored = np.clip(clean.astype(int) + np.random.default_rng(2).integers(-20, 21, clean.shape), 0, 255)
    restored = restored.astype(np.uint8)
    clean_dir = write_folder(tmp_path / "clean", clean)
    restored_dir = write_folder(tmp_path / "restored", restored)
    (restored_dir / "img004.png").rename(restored_dir / "img004.jpg.png")  # not a partner any more
    result = invoke("psnr-ssim", restored_dir, clean_dir)
    assert result.exit_code == 2
    assert "have no partner" in result.stderr and "img004.jpg.png" in result.stderr
    (restored_dir / "img004.jpg.png").unlink()
    Image.fromarray(restored[4]).save(restored_dir / "img004.jpg", quality=100)  # pairs by name, any suffix
    (clean_dir / "img004.png").unlink()
    Image.fromarray(clean[4]).save(clean_dir / "img004.png")
    result = invoke("psnr-ssim", restored_dir, clean_dir, "--batch-size", 2)
    assert result.exit_code == 0, result.output
    jpeg = np.asarray(Image.open(restored_dir / "img004.jpg"))
    expected = psnr_ssim([(np.concatenate([restored[:4], jpeg[None]]), clean)])
    assert json.loads(result.stdout) == pytest.approx(expected, rel=1e-12)
    result = invoke("psnr-ssim", restored_dir, clean_dir, "--limit", 2, "--seed", 1)
    assert json.loads(result.stdout)["pairs"] == 2


def test_psnr_ssim_sizes_must_match(tmp_path):
    result = invoke("psnr-ssim", write_folder(tmp_path / "r", images(2, 32, 1)),
                    write_folder(tmp_path / "c", images(2, 16, 1)))
    assert result.exit_code == 2
    assert "restored images are 32x32 but clean images are 16x16" in result.stderr


def test_paired_images_rejects_two_files_with_one_name(tmp_path):
    folder = write_folder(tmp_path / "a", images(1, 8, 1))
    Image.fromarray(images(1, 8, 2)[0]).save(folder / "img000.jpg")
    with pytest.raises(ImageFolderError, match="img000.jpg and img000.png in .* share a name|"
                                               "img000.png and img000.jpg in .* share a name"):
        paired_images(folder, folder)


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
    real, fake = write_folder(tmp_path / "r", images(2, 32, 1)), write_folder(tmp_path / "f", images(2, 16, 1))
    result = invoke("swd", real, fake)
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
