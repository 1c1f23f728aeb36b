"""Atomic outputs (`facegan.io.staged`): a finished file or folder appears whole, a failed
one leaves the old output as it was, and nothing is lost to a wrong kind of target."""
import pytest

from facegan.io import atomic_write, atomic_write_bytes, staged


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    atomic_write_bytes(tmp_path / "a.txt", b"old")

    def failing(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "a.txt", failing)
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_folder_replaces_a_folder_whole(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.npy").write_bytes(b"stale")
    with staged(tmp_path / "out", folder=True) as staging:
        (staging / "new.npy").write_bytes(b"new")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.npy"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the old folder moved aside is gone too


def test_a_file_never_replaces_a_folder(tmp_path):
    """`facegan edit photo.jpg --out results/` must not wipe results/."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "kept.png").write_bytes(b"kept")
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path / "results", b"png")
    assert (tmp_path / "results" / "kept.png").read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]
