"""Seed spread: how far one training run's numbers move with the seed alone, and what
that lets a comparison of runs conclude.

A GAN run is one draw from a distribution of outcomes (Lucic et al. 2018, "Are GANs
Created Equal?": the seed moves FID by as much as most claimed improvements), and so is
a run on another CPU kind, whose rounding sends training down another path. A figure is
therefore a mean +- sample standard deviation over n seeds, a difference between two
settings is a Welch interval, and a new run is judged against a prediction band.

Welch's t (Welch 1947) over a bootstrap: sweeps here have 2 to 5 runs per setting, where a
bootstrap has a handful of distinct resamples and its interval is far too narrow; Welch's
t interval with the Welch-Satterthwaite degrees of freedom is exact for normal draws at
any n >= 2 and needs no equal variances."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from facegan.experiments import METRIC, PARAM, as_text, columns, model_draws, models, settings

CONFIDENCE = 0.95  # of a difference's interval


@dataclass(frozen=True)
class Summary:
    """n draws of one metric: mean, sample standard deviation (ddof 1; 0 for n = 1), range."""
    n: int
    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values) -> Summary:
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            raise ValueError("a summary needs at least one value")
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        return cls(int(values.size), float(values.mean()), std, float(values.min()), float(values.max()))

    def as_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class Difference:
    """b's mean minus a's, with its Welch interval; `within_noise` when the interval holds 0."""
    delta: float
    low: float
    high: float
    dof: float

    @property
    def within_noise(self) -> bool:
        return bool(self.low <= 0.0 <= self.high)

    def as_dict(self) -> dict:
        return {"difference": self.delta, "ci_low": self.low, "ci_high": self.high, "dof": self.dof,
                "within_noise": self.within_noise}


def welch_difference(a: Summary, b: Summary, confidence: float = CONFIDENCE) -> Difference:
    """The `confidence` interval of mean(b) - mean(a) by Welch's t; both need n >= 2."""
    if a.n < 2 or b.n < 2:
        raise ValueError("Welch's interval needs at least 2 runs on each side")
    va, vb = a.std ** 2 / a.n, b.std ** 2 / b.n
    delta = b.mean - a.mean
    if va + vb == 0.0:  # every run of both alike: no noise to speak of
        return Difference(delta, delta, delta, math.inf)
    dof = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * math.sqrt(va + vb)
    return Difference(delta, delta - half, delta + half, dof)


def resolvable_difference(std: float, n_each: int, confidence: float = CONFIDENCE) -> float:
    """The smallest difference of means between two settings of `n_each` runs each that a
    `confidence` interval tells from 0, when both spread by `std` (pooled t, 2n - 2 dof;
    for one run each, the normal quantile with the std taken as known)."""
    if n_each == 1:
        return stats.norm.ppf(0.5 + confidence / 2) * std * math.sqrt(2)
    return stats.t.ppf(0.5 + confidence / 2, 2 * n_each - 2) * std * math.sqrt(2 / n_each)


def prediction_band(summary: Summary, coverage: float) -> tuple[float, float]:
    """Where one new run falls with probability `coverage`, for normal draws whose mean and
    std are estimated by `summary`: mean +- t(n - 1) std sqrt(1 + 1/n)."""
    if summary.n < 2:
        raise ValueError("a prediction band needs at least 2 runs")
    half = stats.t.ppf(0.5 + coverage / 2, summary.n - 1) * summary.std * math.sqrt(1 + 1 / summary.n)
    return summary.mean - half, summary.mean + half


def eval_noise(table, baseline, model: str):
    """`model`'s draws from one trained model under several evaluation seeds: the baseline
    run and the runs that differ from it in `eval.<model>.seed` alone (None when none do)."""
    seed_column = f"{PARAM}eval.{model}.seed"
    others = [column for column in columns(table, PARAM) if column != seed_column]
    same = (as_text(table[others]) == as_text(baseline[others])).all(axis=1)
    runs = table[same]
    return model_draws(runs, model) if runs[seed_column].nunique() > 1 else None


def seed_spread_record(table, machine: dict, baseline_rev: str) -> dict:
    """The spread of every headline metric over the baseline setting's training seeds, and
    over evaluation seeds of the baseline's trained model (what metrics/seed_spread.json holds)."""
    baseline_setting = next(group for group in settings(table) if group.is_baseline)
    baseline = table[table["baseline"]].iloc[0]
    record = {"baseline_rev": baseline_rev, "machine": machine, "training_seeds": {}, "metrics": {},
              "runs": list(baseline_setting.runs["name"])}
    for model in models(table):
        draws = model_draws(baseline_setting.runs, model)
        sampled = f"{PARAM}eval.{model}.seed" in table.columns
        evaluated = eval_noise(table, baseline, model) if sampled else None
        seed = f"{PARAM}{model}.train.seed"
        record["training_seeds"][model] = sorted({int(s) for s in baseline_setting.runs.loc[draws.index, seed]})
        for column in draws.columns:
            values = draws[column].dropna()
            if len(values) < 2:
                continue
            training = Summary.of(values)
            entry = {"training": {**training.as_dict(), "values": [float(v) for v in values]},
                     "resolvable_difference": {f"{n} run(s) each": resolvable_difference(training.std, n)
                                               for n in (1, 3, 5)}}
            if not sampled:
                entry["evaluation"] = {"n": 0, "std": 0.0, "note": "the evaluation takes no seed: no sampling noise"}
            elif evaluated is None:
                entry["evaluation"] = None  # not measured: no run varied eval.<model>.seed alone
            else:
                entry["evaluation"] = Summary.of(evaluated[column].dropna()).as_dict()
            evaluation_std = (entry["evaluation"] or {}).get("std")
            entry["dominant"] = (None if evaluation_std is None else
                                 "training seed" if training.std >= evaluation_std else "evaluation sampling")
            record["metrics"].setdefault(model, {})[column[len(METRIC) + len(model) + 1:]] = entry
    return record
