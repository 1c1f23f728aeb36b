"""Loss curves as PNG: one panel per plotted column, the same bytes for the same log, and
a clear error for a column the log does not have; the published log has no wall clock."""
import numpy as np
import pytest
from PIL import Image

from facegan.training.log import WALL_CLOCK, LossLog, plot_losses, publish_log, read_log


def _log(path, rows=40):
    log = LossLog(path, ["loss_d", "loss_g", "gp", WALL_CLOCK])
    for iteration in range(1, rows + 1):
        log.add({"loss_d": np.sin(iteration / 5), "loss_g": 1 / iteration, "gp": 0.1})
        log.write(iteration, {WALL_CLOCK: iteration * 0.5})
    return path


def test_plot_has_one_panel_per_column_and_is_reproducible(tmp_path):
    tsv = _log(tmp_path / "loss.tsv")
    plot_losses(tsv, tmp_path / "a.png", ["loss_d", "loss_g", "gp"], "three panels")
    plot_losses(tsv, tmp_path / "b.png", ["loss_d", "loss_g", "gp"], "three panels")
    plot_losses(tsv, tmp_path / "c.png", ["loss_d"], "one panel")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    three, one = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "c.png")
    assert three.format == "PNG" and three.width > 2.5 * one.width and three.height == one.height
    pixels = np.asarray(three.convert("L"))
    assert pixels.min() < 100 < pixels.max()  # drawn lines and text on a light background


def test_unknown_column_names_the_column(tmp_path):
    with pytest.raises(ValueError, match="no column wasserstein"):
        plot_losses(_log(tmp_path / "loss.tsv"), tmp_path / "x.png", ["loss_d", "wasserstein"], "bad")
    assert not (tmp_path / "x.png").exists()


def test_the_published_log_is_the_working_one_without_its_wall_clock(tmp_path):
    working = _log(tmp_path / "work" / "loss.tsv")
    publish_log(working, tmp_path / "loss.tsv")
    published, timed = read_log(tmp_path / "loss.tsv"), read_log(working)
    assert list(published[0]) == ["iteration", "loss_d", "loss_g", "gp"] and timed[-1][WALL_CLOCK] == 20
    assert published == [{key: row[key] for key in published[0]} for row in timed]
