"""`facegan compare`: DVC experiments grouped into settings (every param but the training
seeds), each headline metric as mean +- std (n) per setting, and each setting against the
baseline's as a difference with its 95% Welch interval, "within noise" where it holds 0.
A setting of one run gets no verdict: its value stands beside the spread of one run's
figure that `make spread` measured for the sample (`one_run_spread`)."""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

from facegan.errors import UserError
from facegan.experiments import METRIC, TRAINING_SEEDS, Setting, model_draws, models, settings
from facegan.spread import CONFIDENCE, Summary, welch_difference

WIDTH = 120


def _metric_summaries(setting: Setting, model: str) -> dict[str, Summary]:
    draws = model_draws(setting.runs, model)
    summaries = {}
    for column in draws.columns:
        values = draws[column].dropna()
        if len(values):
            summaries[column[len(METRIC):]] = Summary.of(values)
    return summaries


def compare(table, spread: dict | None, only: list[str] | None = None) -> dict:
    """The comparison as plain data (what `--json` prints): settings, then per metric each
    setting's summary and its difference from the baseline's setting; the metrics of the
    models in `only` (default: all)."""
    unknown = sorted(set(only or []) - set(models(table)))
    if unknown:
        raise UserError(f"no metrics of {', '.join(unknown)}: --model takes any of {', '.join(models(table))}")
    groups = settings(table)
    result = {"training_seeds": list(TRAINING_SEEDS), "confidence": CONFIDENCE,
              "settings": [{"label": g.label, "baseline": g.is_baseline, "params": g.params,
                            "runs": list(g.runs["name"])} for g in groups],
              "metrics": {}, "unchanged": [], "missing": []}
    for model in models(table):
        if only and model not in only:
            continue
        per_setting = {g.label: _metric_summaries(g, model) for g in groups}
        names = dict.fromkeys(name for summaries in per_setting.values() for name in summaries)
        all_metrics = [c[len(METRIC):] for c in table.columns if c.startswith(f"{METRIC}{model}.")]
        result["missing"] += [name for name in all_metrics if name not in names]
        for name in names:
            values = table[f"{METRIC}{name}"].dropna()
            if values.nunique() == 1:
                result["unchanged"].append(name)
                continue
            rows, reference = [], per_setting[groups[0].label].get(name)
            for group in groups:
                summary = per_setting[group.label].get(name)
                if summary is None:
                    continue
                row = {"setting": group.label, **summary.as_dict()}
                if summary.n == 1:
                    row["one_run_std"], row["one_run_std_from"] = one_run_spread(spread, name)
                if group is not groups[0] and reference is not None:
                    row["vs"] = groups[0].label
                    if reference.n >= 2 and summary.n >= 2:
                        row.update(welch_difference(reference, summary).as_dict())
                    else:
                        row.update(difference=summary.mean - reference.mean, within_noise=None)
                rows.append(row)
            result["metrics"][name] = rows
    return result


def one_run_spread(spread: dict | None, name: str) -> tuple[float | None, str]:
    """The std of one run's figure of metric `name` (model.metric), and where it comes from.

    One run is one training seed and one evaluation sample, so both spreads of
    metrics/seed_spread.json apply: combined as independent sources, sqrt(training^2 +
    evaluation^2). (SWD's evaluation sample moves swd.16 by 3.3 where the training seed moves
    it by 0.4: the training std alone would make a change look far surer than it is.) Where
    the evaluation takes no seed, or its spread was not measured, the training std alone."""
    model, metric = name.split(".", 1)
    entry = ((spread or {}).get("metrics", {}).get(model) or {}).get(metric)
    if entry is None:
        return None, "not measured (make spread)"
    training, evaluation = entry["training"]["std"], entry.get("evaluation")
    if evaluation is None:
        return training, "training seeds (the evaluation's spread is not measured)"
    if evaluation["n"] == 0:
        return training, "training seeds (the evaluation takes no seed)"
    return math.hypot(training, evaluation["std"]), "training and evaluation seeds, sqrt(training^2 + evaluation^2)"


def _number(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _verdict(row: dict) -> str:
    if "vs" not in row:
        return ""
    if row.get("within_noise") is None:
        return f"{_number(row['difference'], True)}  no verdict: needs n >= 2 on both sides"
    interval = f"{_number(row['difference'], True)} [{_number(row['ci_low'], True)}, {_number(row['ci_high'], True)}]"
    return f"{interval}  {'within noise' if row['within_noise'] else 'REAL'}"


def render(result: dict) -> str:
    """The comparison as text of at most WIDTH columns."""
    lines = [f"Settings: every param but the training seeds ({', '.join(result['training_seeds'])})."]
    for setting in result["settings"]:
        params = ", ".join(f"{key}={value}" for key, value in setting["params"].items()) or "(all alike)"
        head = f"  {setting['label']}{' (baseline)' if setting['baseline'] else ''}: {len(setting['runs'])} run(s), "
        lines += textwrap.wrap(params, WIDTH, initial_indent=head, subsequent_indent=" " * 6)
    level = f"{round(100 * result['confidence'])}%"
    name_width = max([len(name) for name in result["metrics"]] + [len("metric")]) + 2
    header = f"{'metric':<{name_width}}{'set':<5}{'mean ± std (n)':<32}difference vs A [{level} Welch interval]"
    lines += ["", header, "-" * len(header)]
    for name, rows in result["metrics"].items():
        for index, row in enumerate(rows):
            if row["n"] == 1:
                spread = row.get("one_run_std")
                cell = f"{_number(row['mean'])} (n=1; one-run std {'-' if spread is None else f'{spread:.3g}'})"
            else:
                cell = f"{_number(row['mean'])} ± {row['std']:.3g} ({row['n']})"
            first = name if index == 0 else ""
            lines.append(f"{first:<{name_width}}{row['setting']:<5}{cell:<32}{_verdict(row)}".rstrip())
    if result["unchanged"]:
        lines += [""] + textwrap.wrap("Unchanged in every run (nothing they depend on varied): "
                                      + ", ".join(result["unchanged"]), WIDTH)
    if result["missing"]:
        lines += textwrap.wrap("Missing in every run (see metrics/*.details.json): " + ", ".join(result["missing"]),
                               WIDTH)
    lines += [""] + textwrap.wrap(
        "n counts distinct trained models: runs that reused one training (DVC's run cache, or another model's seed "
        "changed) count once. REAL: the interval excludes 0. A setting of one run is one draw: compare it with "
        "the one-run std, the spread of one run's figure (metrics/seed_spread.json): the training-seed and "
        "evaluation-seed stds combined, sqrt(training^2 + evaluation^2), or the training seeds' alone where the "
        "evaluation takes no seed; queue more seeds for a verdict.", WIDTH)
    return "\n".join(lines)


def load_spread(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None
