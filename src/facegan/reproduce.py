"""Does a fresh `dvc repro` give the committed metrics? Bitwise where the machine is the
kind that made them; elsewhere, within the seed band.

On the machine kind recorded in the committed metrics/*.details.json (CPU, kernels,
threads, versions: facegan.machine) every metrics file must come back byte for byte, so
a commit of code or params without its fresh metrics fails there. On any other machine
training takes another path through the rounding, as another seed would, so each
headline number must fall inside the band that the measured seed spread predicts for one
new run (`make spread`, metrics/seed_spread.json): the 1 - FAMILY_RISK prediction band
over all metrics together (Bonferroni), so that a sound change fails CI for noise alone
at most once in 100 runs, while a model that stopped learning lands far outside."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from facegan.errors import UserError
from facegan.evaluation import details_path
from facegan.experiments import flatten
from facegan.machine import describe
from facegan.spread import Summary, prediction_band

MODELS = ("pgan", "stargan", "hifacegan")
FAMILY_RISK = 0.01  # chance that a sound run fails the band check somewhere


def committed_text(path: Path, rev: str = "HEAD") -> str:
    """`path` as committed at `rev` in the git repository that holds it."""
    result = subprocess.run(["git", "show", f"{rev}:./{path.name}"], cwd=path.parent, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise UserError(f"{path} is not committed at {rev}: commit the metrics first (run 'make repro', then "
                        f"commit metrics/ and dvc.lock)")
    return result.stdout


def bitwise_differences(metrics_dir: Path, rev: str = "HEAD") -> list[str]:
    """The metrics files (headline and details) that differ from their committed bytes."""
    differing = []
    for model in MODELS:
        for path in (metrics_dir / f"{model}.json", details_path(metrics_dir / f"{model}.json")):
            if not path.exists() or path.read_text() != committed_text(path, rev):
                differing.append(str(path))
    return differing


def seed_band(entry: dict, metrics_checked: int) -> tuple[float, float]:
    """A metric's band from its seed_spread.json entry, when `metrics_checked` numbers are
    checked together: each at coverage 1 - FAMILY_RISK / metrics_checked (Bonferroni)."""
    training = Summary(**{key: entry["training"][key] for key in Summary.__annotations__})
    return prediction_band(training, 1 - FAMILY_RISK / max(metrics_checked, 1))


def band_check(metrics_dir: Path, spread: dict) -> tuple[list[list[str]], list[str]]:
    """Each headline number against its seed band: (table rows, failures)."""
    current = {model: flatten(json.loads((metrics_dir / f"{model}.json").read_text())) for model in MODELS}
    count = sum(1 for values in current.values() for value in values.values() if value is not None)
    rows, failures = [], []
    for model in MODELS:
        for name, value in current[model].items():
            entry = (spread["metrics"].get(model) or {}).get(name)
            if value is None:
                state = "missing, as in the spread" if entry is None else "MISSING"
                rows.append([f"{model}.{name}", "null", "", state])
                if entry is not None:
                    failures.append(f"{model}.{name} is null but the spread has numbers for it")
                continue
            if entry is None:
                rows.append([f"{model}.{name}", f"{value:.4g}", "", "NO SPREAD"])
                failures.append(f"{model}.{name} has no measured spread: run 'make spread'")
                continue
            low, high = seed_band(entry, count)
            inside = low <= value <= high
            rows.append([f"{model}.{name}", f"{value:.4g}", f"[{low:.4g}, {high:.4g}]", "ok" if inside else "OUTSIDE"])
            if not inside:
                failures.append(f"{model}.{name} = {value:.6g} lies outside its seed band [{low:.6g}, {high:.6g}]")
    return rows, failures


def reproduce_check(metrics_dir: Path, spread_path: Path, rev: str = "HEAD") -> tuple[str, list[str], list[str]]:
    """(which check ran, lines to print, failures) for the metrics a `dvc repro` just wrote.
    The machine records compared are the PGAN evaluation's (one `dvc repro` runs them all)."""
    details = details_path(metrics_dir / f"{MODELS[0]}.json")
    made_on = json.loads(committed_text(details, rev)).get("machine")
    here = json.loads(details.read_text()).get("machine")
    if made_on is not None and made_on == here:
        failures = [f"{path} differs from {rev}'s" for path in bitwise_differences(metrics_dir, rev)]
        return "bitwise", [f"bitwise check: this machine is the kind that made the committed metrics "
                           f"({describe(here)})"], failures
    if not spread_path.exists():
        raise UserError(f"{spread_path} not found: the band check needs the measured seed spread (make spread)")
    spread = json.loads(spread_path.read_text())
    rows, failures = band_check(metrics_dir, spread)
    seeds = min(entry["training"]["n"] for model in spread["metrics"].values() for entry in model.values())
    lines = [f"seed-band check: this machine ({describe(here) if here else 'unrecorded'}) is not the kind that made "
             f"the committed metrics ({describe(made_on) if made_on else 'unrecorded'}); each headline number must lie "
             f"in its {100 * (1 - FAMILY_RISK):g}% family-wise prediction band from {spread_path} (n = {seeds} seeds)"]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "seed-band", lines, failures
