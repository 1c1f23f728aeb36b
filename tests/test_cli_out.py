"""The one `--out` rule of every `facegan` command (`output_paths`), and `facegan degrade`
under it; the commands that need a trained model test it beside their other tests."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from facegan.cli import app, output_paths
from facegan.errors import UserError

FACE = FIXTURES / "ffhq_256_12" / "00000.png"


def test_a_trailing_slash_or_an_existing_folder_is_written_into(tmp_path):
    assert output_paths(f"{tmp_path}/new/", ["a.png", "b.png"]) == [tmp_path / "new/a.png", tmp_path / "new/b.png"]
    assert output_paths(str(tmp_path), ["a.png"]) == [tmp_path / "a.png"]
    assert output_paths(str(tmp_path / "x.png"), ["a.png"]) == [tmp_path / "x.png"]
    with pytest.raises(UserError, match=r"is a file path, but there are 2 images to write: end it with /"):
        output_paths(str(tmp_path / "x"), ["a.png", "b.png"])


@pytest.mark.skipif(not FACE.exists(), reason=f"fixtures not present at {FACE.parent}")
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
