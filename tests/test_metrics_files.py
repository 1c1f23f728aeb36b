"""The committed metrics files: numbers only, in tables DVC prints readably, consistent with
the details beside them; and every figure the README and docs/ quote from them is theirs."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from facegan.evaluation import details_path, headline_numbers, write_record
from facegan.machine import describe_machine
from facegan.hifacegan.evaluate import HEADLINE as HIFACEGAN
from facegan.pgan.evaluate import HEADLINE as PGAN
from facegan.stargan.evaluate import HEADLINE as STARGAN

ROOT = Path(__file__).resolve().parents[1]
HEADLINES = {"pgan": PGAN, "stargan": STARGAN, "hifacegan": HIFACEGAN}
# The pages that quote figures: wherever a figure moves among them, it stays checked.
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A figure taken from a metrics file carries, invisible once rendered, the file and the
# dotted key it quotes: "39.5<!-- metrics/pgan.json swd.avg -->".
README_FIGURE = re.compile(r"([\d,]*\.?\d+)<!-- (metrics/[\w.]+\.json) ([\w.]+) -->")
# A seed-spread figure: "39.5 ± 2.9 (5)<!-- spread pgan swd.avg -->", from metrics/seed_spread.json.
SPREAD_FIGURE = re.compile(r"([+-]?[\d.]+) ± ([\d.]+) \((\d+)\)<!-- spread (\w+) ([\w.]+) -->")


def _leaves(value):
    if isinstance(value, dict):
        for child in value.values():
            yield from _leaves(child)
    else:
        yield value


def _lookup(record: dict, dotted: str):
    for key in dotted.split("."):
        record = record[key]
    return record


@pytest.mark.parametrize("model", HEADLINES)
def test_committed_metrics_are_the_headline_numbers_of_their_details(model):
    metrics = json.loads((ROOT / f"metrics/{model}.json").read_text())
    details = json.loads(details_path(ROOT / f"metrics/{model}.json").read_text())
    assert all(value is None or type(value) in (int, float) for value in _leaves(metrics)), metrics
    assert metrics == headline_numbers(details, HEADLINES[model])
    assert set(details["missing"]) >= {path for path in HEADLINES[model] if _lookup(metrics, path) is None}


@pytest.mark.parametrize("model", HEADLINES)
def test_dvc_metrics_show_fits_120_columns_per_model(model):
    shown = subprocess.run(["dvc", "metrics", "show", f"metrics/{model}.json"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    assert f"metrics/{model}.json" in shown and max(map(len, shown.splitlines())) <= 120, shown


def test_write_record_splits_numbers_from_the_rest(tmp_path):
    record = {"swd": {"16": 30.5, "avg": 31.0}, "fid": None, "images": {"swd": 10},
              "missing": {"fid": "no weights"}, "seed": 3}
    details = write_record(tmp_path / "m.json", record, ("fid", "swd.avg"))
    written = json.loads(details.read_text())
    assert details == tmp_path / "m.details.json" and {k: v for k, v in written.items() if k != "machine"} == record
    assert written["machine"] == describe_machine()  # what decides a bitwise rerun
    assert json.loads((tmp_path / "m.json").read_text()) == {"fid": None, "swd": {"avg": 31.0}}


@pytest.mark.parametrize("value", ["off", True, [1.0]])
def test_a_headline_that_is_not_a_number_is_refused(value):
    with pytest.raises(TypeError, match="must be a number or null"):
        headline_numbers({"loss": value}, ("loss",))


def _quoted(pattern: re.Pattern) -> list[tuple]:
    """Every figure that `pattern` finds in the README and docs/, each with the page quoting it."""
    return [(page.relative_to(ROOT).as_posix(), *found) for page in DOC_PAGES
            for found in pattern.findall(page.read_text())]


def test_doc_figures_are_the_committed_ones():
    quoted = _quoted(README_FIGURE)
    assert len(quoted) >= 8  # the check reads the figures it is meant to
    for page, text, file, key in quoted:
        value = _lookup(json.loads((ROOT / file).read_text()), key)
        decimals = len(text.partition(".")[2])
        assert float(text.replace(",", "")) == round(value, decimals), f"{page} quotes {text} for {file} {key}: {value}"


def test_doc_spread_figures_are_the_measured_ones():
    spread = json.loads((ROOT / "metrics" / "seed_spread.json").read_text())["metrics"]
    quoted = _quoted(SPREAD_FIGURE)
    assert len(quoted) >= 6  # the check reads the figures it is meant to
    for page, mean, std, n, model, key in quoted:
        training = spread[model][key]["training"]
        for text, value in ((mean, training["mean"]), (std, training["std"])):
            assert float(text) == round(value, len(text.partition(".")[2])), f"{page}: {model} {key}: {text} for {value}"
        assert int(n) == training["n"], f"{page}: {model} {key}: n {n} for {training['n']}"
