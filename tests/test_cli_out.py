"""The one `--out` rule of every `facegan` command (`output_paths`), and `facegan degrade`
under it and under Ctrl-C; the commands that need a trained model test them beside their
other tests."""
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import FACEGAN, FIXTURES, FIXTURES_ABSENT, interrupt_and_rerun, write_photos
from facegan.cli import app
from facegan.cli.outputs import output_paths
from facegan.errors import UserError
from facegan.images import GIF_FORMATS, save_image

FACE = FIXTURES / "ffhq_256_12" / "00000.png"


def test_a_trailing_slash_or_an_existing_folder_is_written_into(tmp_path):
    assert output_paths(f"{tmp_path}/new/", ["a.png", "b.png"]) == [tmp_path / "new/a.png", tmp_path / "new/b.png"]
    assert output_paths(str(tmp_path), ["a.png"]) == [tmp_path / "a.png"]
    assert output_paths(str(tmp_path / "x.png"), ["a.png"]) == [tmp_path / "x.png"]
    with pytest.raises(UserError, match=r"is a file path, but there are 2 images to write: end it with /"):
        output_paths(str(tmp_path / "x"), ["a.png", "b.png"])


def test_paths_that_cannot_take_the_output_are_refused_before_any_work(tmp_path):
    (tmp_path / "existing.png").write_bytes(b"the user's file")
    with pytest.raises(UserError, match=r"existing.png is an existing file, not a folder"):
        output_paths(f"{tmp_path}/existing.png/", ["a.png", "b.png"])
    with pytest.raises(UserError, match=r"existing.png is an existing file, so nothing can be written under it"):
        output_paths(f"{tmp_path}/existing.png/new/", ["a.png"])
    with pytest.raises(UserError, match=r"must end in .png or .jpg or .jpeg"):
        output_paths(str(tmp_path / "edited.bmp"), ["a.png"])
    with pytest.raises(UserError, match=r"must end in .gif"):
        output_paths(str(tmp_path / "walk.png"), ["walk.gif"], "--gif", GIF_FORMATS)
    (tmp_path / "out" / "b.png").mkdir(parents=True)
    with pytest.raises(UserError, match=r"holds folders named as the files to write \(b.png\)"):
        output_paths(f"{tmp_path}/out/", ["a.png", "b.png"])
    assert (tmp_path / "existing.png").read_bytes() == b"the user's file"


def test_the_extension_chooses_the_format(tmp_path):
    face = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for name, kind in (("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.JPEG", "JPEG")):
        save_image(face, tmp_path / name)
        assert Image.open(tmp_path / name).format == kind
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), face)


def test_help_and_argument_errors_come_without_loading_torch():
    """`facegan --help` and a mistake come back at once: torch (2 s to import) is not loaded."""
    import subprocess
    import sys

    probe = ("import sys; sys.argv = ['facegan', 'restore', 'no-such-folder', '--out', 'x/']\n"
             "from facegan.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False" and "does not exist" in result.stderr, result
    started = time.monotonic()
    assert subprocess.run([FACEGAN, "--help"], capture_output=True).returncode == 0
    print(f"facegan --help: {time.monotonic() - started:.2f} s")  # shown with -s; timing is not asserted


@pytest.mark.skipif(not FACE.exists(), reason=f"{FIXTURES_ABSENT} {FACE.parent}")
def test_degrade_one_photo_into_a_new_folder_and_refuse_a_file_for_a_folder(tmp_path):
    result = CliRunner().invoke(app, ["degrade", str(FACE), f"{tmp_path / 'new'}/", "--size", "32", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["00000.png"]
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "kept.txt").write_text("kept")
    result = CliRunner().invoke(app, ["degrade", str(FACE), str(tmp_path / "existing"), "--size", "32"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == ["00000.png", "kept.txt"]
    refused = CliRunner().invoke(app, ["degrade", str(FACE.parent), str(tmp_path / "file.png"), "--size", "32"])
    assert "OUT" in str(refused.exception) and "end it with /" in str(refused.exception)
    assert not Path(tmp_path / "file.png").exists()


def test_degrade_interrupted_keeps_complete_files_and_a_rerun_finishes(tmp_path):
    """Ctrl-C mid-run, in a run with worker processes: one line, no traceback from any of
    them, complete files only; the rerun gives the bytes of an uninterrupted run."""
    photos = write_photos(tmp_path / "photos", 1500)
    args = ["degrade", photos, f"{tmp_path / 'out'}/", "--clean", f"{tmp_path / 'clean'}/", "--size", "16",
            "--workers", "2"]
    interrupt_and_rerun(args, tmp_path / "out", 1500, also=tmp_path / "clean")
    straight = CliRunner().invoke(app, [str(a) for a in args[:2]] + [f"{tmp_path / 'straight'}/", *map(str, args[3:])])
    assert straight.exit_code == 0, straight.output
    for name in ("00000.png", "00749.png", "01499.png"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()
