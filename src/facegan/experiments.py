"""DVC experiments as a pandas table, grouped into settings: one row per finished run (the
baseline commit and its experiments, from `dvc exp show --json`), a column per param and
per headline metric; a setting is every param but the training seeds."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath

import pandas as pd

from facegan.errors import UserError

# What a seed sweep varies; every other param defines a setting. The classifier that judges
# StarGAN and the evaluation's sampling seeds are part of the measurement, not of the run.
TRAINING_SEEDS = ("pgan.train.seed", "stargan.train.seed", "hifacegan.train.seed")
PARAM, METRIC = "param:", "metric:"
EVALUATIONS = "metrics"  # the folder of the evaluations' records; the train stages' curves/metrics.json are progress


def exp_show(rev: str | None = None) -> list:
    """`dvc exp show --json` for the baseline `rev` (default: HEAD) and its experiments."""
    command = ["dvc", "exp", "show", "--json"] + (["--rev", rev] if rev else [])
    # DVC as installed beside this interpreter (a dependency), whatever PATH holds.
    result = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise UserError(f"`{' '.join(command)}` failed: {lines[-1] if lines else 'no message'}; run it from the "
                        f"repository root")
    return json.loads(result.stdout)


def commit_of(rev: str | None) -> str:
    """The full commit hash that `rev` (default: HEAD) names."""
    result = subprocess.run(["git", "rev-parse", "--verify", f"{rev or 'HEAD'}^{{commit}}"], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise UserError(f"{rev or 'HEAD'} names no commit here: give a commit, branch or tag (git log --oneline)")
    return result.stdout.strip()


def flatten(tree: dict, prefix: str = "") -> dict:
    """A nested dict as {"dotted.key": leaf}."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:  # lists (channels, betas) as text, so that a setting can be grouped on
            flat[name] = json.dumps(value) if isinstance(value, list) else value
    return flat


def _row(name: str, rev: str, data: dict) -> dict | None:
    """A run's params and numeric metrics, those of the evaluations' records (None when it has
    none: failed, queued or still training)."""
    metrics = {}
    for path, content in (data.get("metrics") or {}).items():
        if PurePosixPath(path).parent.as_posix() != EVALUATIONS:
            continue
        model = PurePosixPath(path).stem
        for key, value in flatten(content.get("data") or {}).items():
            if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[f"{METRIC}{model}.{key}"] = math.nan if value is None else float(value)
    if not metrics:
        return None
    params = {}
    for content in (data.get("params") or {}).values():
        params.update({f"{PARAM}{key}": value for key, value in flatten(content.get("data") or {}).items()})
    return {"name": name, "rev": rev, "baseline": False, **params, **metrics}


def runs_table(shown: list) -> pd.DataFrame:
    """The finished runs in `dvc exp show --json` output: each baseline commit (not the
    workspace, which is one of them or unfinished) and each experiment that succeeded."""
    rows = []
    for entry in shown:
        if entry.get("rev") == "workspace":
            continue
        baseline = _row(entry.get("name") or entry["rev"][:7], entry["rev"], entry.get("data") or {})
        if baseline is not None:
            rows.append({**baseline, "baseline": True})
        for experiment in entry.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state", "success")
            run = (experiment.get("revs") or [{}])[0]
            row = (_row(experiment.get("name") or run.get("name") or run["rev"][:7], run["rev"], run.get("data") or {})
                   if state == "success" and run.get("rev") else None)
            if row is not None:
                rows.append(row)
    if not rows:
        raise UserError("no finished experiment to compare: queue some (`dvc exp run --queue -S ...`), "
                        "then `dvc queue start`, and wait for `dvc queue status` to show them done")
    return pd.DataFrame(rows)


def as_text(values: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Every cell as its str(), missing ones as "nan" (pandas' own astype(str) keeps them
    missing), so that cells compare and group by what they show."""
    return values.map(str)


def columns(table: pd.DataFrame, prefix: str) -> list[str]:
    return [column for column in table.columns if column.startswith(prefix)]


@dataclass
class Setting:
    """The runs that share every param but the training seeds."""
    label: str          # A, B, ...
    params: dict        # the params in which settings differ, with this one's values
    runs: pd.DataFrame

    @property
    def is_baseline(self) -> bool:
        return bool(self.runs["baseline"].any())


def settings(table: pd.DataFrame) -> list[Setting]:
    """Group runs by every param but TRAINING_SEEDS; the baseline commit's setting first,
    then in order of first appearance."""
    keys = [column for column in columns(table, PARAM) if column[len(PARAM):] not in TRAINING_SEEDS]
    key_text = as_text(table[keys]).agg("\x1f".join, axis=1) if keys else pd.Series("", index=table.index)
    varying = [column for column in keys if as_text(table[column]).nunique() > 1]
    # unique() keeps the order of first appearance, and a stable sort keeps it behind the baseline's.
    order = sorted(key_text.unique(), key=lambda key: not table.loc[key_text == key, "baseline"].any())
    groups = []
    for index, key in enumerate(order):
        runs = table[key_text == key]
        label = chr(ord("A") + index) if index < 26 else f"G{index}"
        # Each column's own first value as a plain Python one (a row would turn ints into floats,
        # and numpy's int64 is no JSON).
        params = {column[len(PARAM):]: runs[column].tolist()[0] for column in varying}
        groups.append(Setting(label, params, runs))
    return groups


def models(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(column[len(METRIC):].split(".", 1)[0] for column in columns(table, METRIC)))


def model_draws(runs: pd.DataFrame, model: str) -> pd.DataFrame:
    """`model`'s metrics over `runs`, one row per distinct trained model: runs whose every
    metric of `model` is equal reused one training (a seed of another model changed, or
    DVC's run cache restored it), and count once."""
    metric_columns = [column for column in columns(runs, METRIC) if column[len(METRIC):].startswith(f"{model}.")]
    values = runs[metric_columns]
    return values[~as_text(values.round(12)).duplicated()]
