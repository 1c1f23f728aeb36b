"""Per-model evaluation: generate, measure with facegan.metrics, write what a person looks at."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from facegan.io import write_json
from facegan.machine import describe_machine


def details_path(metrics: Path) -> Path:
    """The file beside a metrics file that holds its whole record: metrics/pgan.details.json."""
    return metrics.with_suffix(".details.json")


def headline_numbers(record: dict, headline: tuple[str, ...]) -> dict:
    """The `headline` entries of `record` (dotted paths; a path may end at a dict of numbers),
    nested as in the record. Every value must be a number or None."""
    numbers: dict[str, Any] = {}
    for path in headline:
        *parents, leaf = path.split(".")
        source, target = record, numbers
        for key in parents:
            source, target = source[key], target.setdefault(key, {})
        target[leaf] = source[leaf]
        for value in (source[leaf].values() if isinstance(source[leaf], dict) else [source[leaf]]):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise TypeError(f"metric {path} must be a number or null, not {value!r}")
    return numbers


def write_record(metrics: Path, record: dict, headline: tuple[str, ...]) -> Path:
    """Write an evaluation `record` as two files, and return the second one's path.

    `metrics` (DVC metrics) holds the headline numbers only, null where one is missing, so
    that `dvc metrics show`, `dvc metrics diff` and `dvc exp show` stay a readable table.
    `details_path(metrics)` (tracked in git, not metrics) holds the whole record: the
    per-level and per-attribute numbers, the baselines, image counts, the conditions the
    numbers were made under and the reason for every null, and the machine they were made
    on (CPU, kernels, threads, versions), which decides whether a rerun can match them bitwise."""
    write_json(metrics, headline_numbers(record, headline))
    write_json(details_path(metrics), {**record, "machine": describe_machine()})
    return details_path(metrics)
