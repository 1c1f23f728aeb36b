"""The loss curves as DVC plots: the page that `dvc plots diff` writes with the project's
template overlays two runs' curves, chart by chart, in a browser with no network; and the
template carries vega inline (`facegan.plots_page`)."""
import re

import numpy as np
import pytest
import yaml

from browser import charts, rendered
from conftest import REPO, run_in
from facegan.plots_page import DVC_PLACEHOLDERS, with_bundle
from facegan.training.log import LiveCurves, LossLog
from facegan.training.loop import StepSums

TEMPLATE = REPO / ".dvc/plots.html"


def test_the_template_needs_no_network():
    page = TEMPLATE.read_text()
    assert re.search(r'<script id="vega-bundle" data-versions="vega \d[^"]*">.{100000,}?</script>', page, re.S)
    assert "{plot_divs}" in page and "{scripts}" not in page  # DVC's {scripts} loads vega from a CDN
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", page)


def test_the_bundle_goes_into_its_element_only():
    template = '<head><script id="vega-bundle" data-versions="old">old code</script></head>{plot_divs}'
    page = with_bundle(template, "window.vega = 1;", "vega 6")
    assert page == '<head><script id="vega-bundle" data-versions="vega 6">window.vega = 1;</script></head>{plot_divs}'
    with pytest.raises(ValueError, match="no <script id"):
        with_bundle("{plot_divs}", "window.vega = 1;", "vega 6")
    for bad in ("a = '</script>';", *DVC_PLACEHOLDERS):
        with pytest.raises(ValueError, match="would end its <script> element or that DVC would replace"):
            with_bundle(template, bad, "vega 6")


def _train_curves(folder, seed: int, iterations: int = 60) -> None:
    """What a train stage writes: a working log and its curves, every 5 iterations."""
    values = np.random.default_rng(seed)
    log = LossLog(folder / "work/loss.tsv", ["loss_d", "gp", "seconds"])
    curves, sums = LiveCurves(folder / "curves", ["loss_d", "gp"]), StepSums()
    for iteration in range(1, iterations + 1):
        sums.add({"loss_d": -1 / iteration + values.normal(0, 0.1), "gp": values.uniform(0, 1)})
        if iteration % 5 == 0:
            curves.write(log.write(iteration, {**sums.means(), "seconds": iteration * 0.1}))


@pytest.mark.slow
def test_plots_diff_overlays_two_runs_offline(tmp_path):
    """Two runs' curves, committed and in the workspace, declared as the project declares
    StarGAN's: `dvc plots diff` draws one chart a logged value with one line a revision,
    and Chromium draws them with every host name unresolvable."""
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train_stargan"]
    declared = next(plot for plot in stage["plots"] if isinstance(plot, dict))
    (folder, properties), = declared.items()
    run_in("git", "init", "-q", cwd=tmp_path)
    run_in("dvc", "init", "-q", cwd=tmp_path)
    (tmp_path / ".dvc/plots.html").write_text(TEMPLATE.read_text())
    run_in("dvc", "config", "plots.html_template", "plots.html", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"plots": [{folder: properties}]}))
    out = tmp_path / folder.removesuffix("/curves/plots/metrics")
    _train_curves(out, seed=0)
    run_in("git", "add", "-A", cwd=tmp_path)
    run_in("git", "commit", "-qm", "baseline", cwd=tmp_path)
    _train_curves(out, seed=1)

    run_in("dvc", "plots", "diff", "HEAD", "-o", "diff", cwd=tmp_path)
    page = tmp_path / "diff/index.html"
    assert not re.search(r"<script[^>]+src=", page.read_text())  # nothing loaded from elsewhere
    drawn = charts(rendered(page, screenshot=tmp_path / "diff.png"))
    assert sorted(drawn) == [f"{folder.replace('/', '_')}_{name}_tsv" for name in ("gp", "loss_d")]
    for svg in drawn.values():
        assert properties["title"] in svg and properties["x_label"] in svg  # titled and labelled
        legend = re.findall(r'<text[^>]*>(HEAD|workspace)</text>', svg)
        assert sorted(set(legend)) == ["HEAD", "workspace"], legend
        # A line a revision, smoothed (the slider) and raw: its first point names the revision.
        first_points = r'<path aria-label="iteration: 5; [^"]*rev: (\w+)"[^>]*aria-roledescription="line mark"'
        lines = re.findall(first_points, svg)
        assert sorted(lines) == ["HEAD", "HEAD", "workspace", "workspace"], lines
