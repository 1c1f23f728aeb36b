"""HiFaceGAN's degradations on a real FFHQ face: determinism, effect, size; the packed pairs
(identical for any number of workers) and `facegan degrade`."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from typer.testing import CliRunner

from conftest import FIXTURES, FIXTURES_ABSENT
from facegan.cli import app
from facegan.hifacegan.data import Degrader, degrade_ffhq, load_ffhq_pairs
from facegan.errors import UserError
from facegan.images import read_image

FACE = FIXTURES / "ffhq_256_12" / "00000.png"
pytestmark = pytest.mark.skipif(not FACE.exists(), reason=f"{FIXTURES_ABSENT} {FACE.parent}")
SEEDS = range(4)


def _psnr(a, b) -> float:
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def _detail(image) -> float:
    """Variance of the Laplacian of the grey image: high-frequency energy."""
    return float(np.var(ndimage.laplace(image.astype(float).mean(axis=2))))


# (type, PSNR band in dB against the clean 128 px image, band of the detail ratio degraded/clean), with
# the reference's ranges as given (unscaled)
EFFECTS = [
    ("down", (19, 29), (0.0, 0.15)),  # 8x-4x smaller and back: detail gone
    ("noise", (13, 26), (3.0, 60.0)),  # strong per-pixel noise: detail added
    ("blur", (18, 28), (0.0, 0.15)),
    ("jpeg", (25, 34), (0.4, 0.95)),  # quality 17-51: blocks, some detail lost
    ("full", (10, 25), (0.0, 60.0)),
]


@pytest.mark.parametrize("kind, psnr_band, detail_band", EFFECTS)
def test_each_degradation_on_a_real_face(kind, psnr_band, detail_band):
    image = read_image(FACE)
    for seed in SEEDS:
        degraded, clean = Degrader(kind, 128, seed, False).pair("00000", image)
        assert degraded.shape == clean.shape == (128, 128, 3) and degraded.dtype == np.uint8
        assert psnr_band[0] < _psnr(degraded, clean) < psnr_band[1], (kind, seed)
        assert detail_band[0] <= _detail(degraded) / _detail(clean) <= detail_band[1], (kind, seed)
        assert abs(degraded.mean() - clean.mean()) < 6  # no colour shift
        again, _ = Degrader(kind, 128, seed, False).pair("00000", image)
        assert np.array_equal(again, degraded)  # same seed and name: same bytes
    outputs = {Degrader(kind, 128, seed, False).pair("00000", image)[0].tobytes() for seed in SEEDS}
    assert len(outputs) == len(SEEDS)  # another seed, another draw
    other_name, _ = Degrader(kind, 128, 0, False).pair("00001", image)
    assert not np.array_equal(other_name, Degrader(kind, 128, 0, False).pair("00000", image)[0])


def test_the_clean_image_is_the_centred_square_resized():
    wide = np.zeros((100, 160, 3), np.uint8)
    wide[:, 30:130] = 200  # the centred 100x100 square
    _, clean = Degrader("jpeg", 32, 0, False).pair("x", wide)
    assert clean.shape == (32, 32, 3) and clean.min() == 200


def _images(tmp_path, corrupt=0):
    paths = {}
    for index, source in enumerate(sorted(FACE.parent.glob("*.png"))[:6]):
        paths[source.stem] = source
    for index in range(corrupt):
        bad = tmp_path / f"bad{index}.png"
        bad.write_bytes(b"\x89PNG truncated")
        paths[f"9999{index}"] = bad
    names = list(paths)
    return {"train": {n: paths[n] for n in names[:4]}, "test": {n: paths[n] for n in names[4:]}}


def test_pairs_are_identical_with_one_or_two_workers(tmp_path):
    images = _images(tmp_path)
    for workers in (1, 2):
        degrade_ffhq(
            images, tmp_path / f"w{workers}", Degrader("full", 64, 3, False), max_bad_fraction=0.0, workers=workers
        )
    one, two = load_ffhq_pairs(tmp_path / "w1"), load_ffhq_pairs(tmp_path / "w2")
    assert one.pairs["train"].shape == (4, 2, 64, 64, 3) and one.pairs["test"].shape == (2, 2, 64, 64, 3)
    for split in ("train", "test"):
        assert np.array_equal(one.pairs[split], two.pairs[split])
    assert one.manifest["files"] == {"train": ["00000", "00001", "00002", "00003"], "test": ["00004", "00005"]}
    assert one.manifest == two.manifest
    # The pair of image 00004 is what Degrader gives for its name.
    degraded, clean = Degrader("full", 64, 3, False).pair("00004", read_image(FACE.parent / "00004.png"))
    assert np.array_equal(one.pairs["test"][0, 0], degraded) and np.array_equal(one.pairs["test"][0, 1], clean)


def test_unreadable_images_are_skipped_and_listed_up_to_the_limit(tmp_path):
    images = _images(tmp_path, corrupt=1)
    manifest = degrade_ffhq(images, tmp_path / "out", Degrader("jpeg", 32, 0, False), max_bad_fraction=0.2, workers=1)
    assert manifest["counts"] == {"train": 4, "test": 2, "skipped": 1}
    assert manifest["skipped"][0]["file"] == "99990" and "image" in manifest["skipped"][0]["reason"]
    assert load_ffhq_pairs(tmp_path / "out").pairs["test"].shape[0] == 2
    with pytest.raises(UserError, match="unusable"):
        degrade_ffhq(images, tmp_path / "strict", Degrader("jpeg", 32, 0, False), max_bad_fraction=0.0, workers=1)
    assert not (tmp_path / "strict").exists()


def test_degrade_command_on_a_folder_with_a_corrupt_file(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in ("00000.png", "00001.png"):
        (folder / name).write_bytes((FACE.parent / name).read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "clean").mkdir()  # an existing folder: written into, as a trailing / says for "out/"
    result = CliRunner().invoke(app, ["degrade", str(folder), f"{tmp_path / 'out'}/", "--type", "full", "--seed", "3",
                                      "--size", "64", "--clean", str(tmp_path / "clean"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["00000.png", "00001.png"]
    # The same bytes as the stage's pair for that name and seed (ranges scaled, as the params default).
    degraded, clean = Degrader("full", 64, 3, True).pair("00001", read_image(FACE.parent / "00001.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out/00001.png")), degraded)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "clean/00001.png")), clean)


def test_degrade_command_rejects_an_unknown_type(tmp_path):
    result = CliRunner().invoke(app, ["degrade", str(FACE), str(tmp_path / "x.png"), "--type", "rain"])
    assert result.exit_code != 0 and "must be one of down, noise, blur, jpeg, full" in str(result.exception)
