"""Typed, validated parameters: the one reader of params.yaml, and the schema machinery
every section's own module uses (imports no torch).

A section's schema is a frozen dataclass that lives with the code that reads it: PGAN's in
`pgan/params.py`, CelebA's in `data/celeba_params.py`, the compute settings in
`training/compute.py`, and so on. A stage loads only the sections it reads (`Sections`), so a
change to one model's schema re-runs, and re-validates, that model's stages only; the whole
file is checked in one pass by `facegan params check` (`params_file.py`).

Loading checks everything it loads before any work: an unknown key, a missing key, a wrong
type or an out-of-range value raises `ParamsError` naming the dotted key, the value and what
is allowed, every problem at once. A schema's own rules (`rules(prefix)`, a method) run once
its values are valid; rules between sections run once every section is.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from facegan.errors import UserError


class ParamsError(UserError, ValueError):
    """A params.yaml value is missing, unknown, mistyped or out of range."""


def setting(default=dataclasses.MISSING, *, low=None, high=None, choices=None, power_of_two=False, positive=False):
    """A schema field with the range or choices the loader checks (`positive`: > 0)."""
    check = {"low": low, "high": high, "choices": choices, "power_of_two": power_of_two, "positive": positive}
    if default is dataclasses.MISSING:
        return field(metadata=check)
    return field(default=default, metadata=check)


@dataclass(frozen=True)
class Value:
    """A section that is one value, not a mapping (the top-level `lr`)."""

    type: type
    check: dict


def value(type_: type, **check) -> Value:
    return Value(type_, setting(**check).metadata)


# The params file's layout: its top-level keys, and the keys of those that group sections.
# A stage that loads some sections still refuses a misspelt top-level or group key; the
# full schema (`params_file.py`) must have exactly these (tests/test_stage_params.py).
LAYOUT: dict[str, tuple[str, ...]] = {
    "lr": (), "data": ("celeba", "ffhq"), "pgan": (), "stargan": (), "hifacegan": (), "weights": (),
    "eval": ("pgan", "stargan", "hifacegan"), "compute": (),
}

Loaded = types.SimpleNamespace  # the sections a stage loaded, as attributes: `.pgan`, `.data.celeba`
Rule = Callable[[Loaded, list[str]], None]  # (the loaded sections, problems to add to)


@dataclass(frozen=True)
class Sections:
    """What a stage reads of the params file: {dotted key: its schema (a dataclass or a
    `Value`)}, and the rules between those sections."""

    schemas: Mapping[str, type | Value]
    rules: Sequence[Rule] = ()

    def load(self, path: Path | str = "params.yaml") -> Loaded:
        """These sections of the params file at `path`, typed and checked, as attributes
        (`.pgan`, `.data.celeba`); ParamsError lists every problem found."""
        path = Path(path)
        if not path.exists():
            raise ParamsError(f"{path} not found: run from the repository root or pass --params")
        raw = read_yaml(path)
        problems = _renamed_blocks(raw)
        try:
            if not isinstance(raw, dict):
                raise ParamsError(f"params = {raw!r}: must be a mapping of keys to values")
            problems += _unknown_layout(raw)
            loaded = _collect({key: functools.partial(_section, raw, key, schema, problems)
                               for key, schema in self.schemas.items()}, problems)
        except ParamsError as error:
            problems.append(str(error))
        except _Reported:
            pass
        else:
            sections = _nested(loaded)
            for rule in self.rules:
                rule(sections, problems)
        problems = list(dict.fromkeys(problems))  # a missing group is missing once, not once a section
        if len(problems) == 1:
            raise ParamsError(f"{path}: {problems[0]}")
        if problems:
            raise ParamsError(f"{path}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
        return sections


def _unknown_layout(raw: dict) -> list[str]:
    problems = [f"{name}: unknown key; allowed keys here: {', '.join(LAYOUT)}" for name in raw if name not in LAYOUT]
    for group, names in LAYOUT.items():
        if names and isinstance(raw.get(group), dict):
            problems += [f"{group}.{name}: unknown key; allowed keys here: {', '.join(names)}"
                         for name in raw[group] if name not in names]
    return problems


def _section(raw: dict, key: str, schema: type | Value, problems: list[str]):
    """The section at dotted `key` of `raw`, built and checked."""
    *parents, name = key.split(".")
    mapping = raw
    for depth, part in enumerate(parents):
        mapping = mapping.get(part) if isinstance(mapping, dict) else None
        if mapping is None:
            raise ParamsError(f"{'.'.join(parents[:depth + 1])}: missing; add it")
    if not isinstance(mapping, dict):
        raise ParamsError(f"{'.'.join(parents)} = {mapping!r}: must be a mapping of keys to values")
    if name not in mapping:
        raise ParamsError(f"{key}: missing; add it")
    if isinstance(schema, Value):
        converted = _convert(schema.type, mapping[name], key, problems)
        _check_range(converted, schema.check, key)
        return converted
    return _convert(schema, mapping[name], key, problems)


def _nested(loaded: dict[str, Any]) -> Loaded:
    """{"data.celeba": x, "lr": y} as attributes: .data.celeba, .lr."""
    root = Loaded()
    for key, section in loaded.items():
        *parents, name = key.split(".")
        node = root
        for part in parents:
            if not hasattr(node, part):
                setattr(node, part, Loaded())
            node = getattr(node, part)
        setattr(node, name, section)
    return root


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key written twice in one mapping: PyYAML would keep the
    last value without a word, so that `lr:` written twice trains with whichever came last."""

    def construct_mapping(self, node, deep=False):
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key, Hashable):
                continue  # merges and unhashable keys: SafeLoader's own handling
            line = key_node.start_mark.line + 1
            if key in lines:
                raise ParamsError(f"the key {key!r} is written twice, on lines {lines[key]} and {line}: keep one")
            lines[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    """The YAML file at `path`, which exists; a key written twice in one mapping is an error."""
    try:
        with path.open() as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from error


# Top-level blocks that were renamed: the old name is an error that names the new one.
RENAMED_BLOCKS = {"train": "compute"}


def _renamed_blocks(raw: Any) -> list[str]:
    """A problem for each block of `raw` under its old name; the block is then read under
    the new name, so that its own problems are found in the same pass."""
    problems = []
    for old, new in RENAMED_BLOCKS.items():
        if isinstance(raw, dict) and old in raw and new not in raw:
            raw[new] = raw.pop(old)
            problems.append(f"{old}: renamed {new} (the same keys inside): rename the block to `{new}:`")
    return problems


class _Reported(Exception):
    """A part of params.yaml whose problems are already in the list."""


def _build(cls, raw: Any, prefix: str, problems: list[str]):
    """The dataclass `cls` from its mapping, each field's problem added to `problems`
    (then _Reported is raised once every field was looked at)."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix or 'params'} = {raw!r}: must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    for name in unknown:
        problems.append(f"{_join(prefix, name)}: unknown key; allowed keys here: {', '.join(fields)}")
    makers = {name: functools.partial(_field_value, spec, hints[name], raw, name, _join(prefix, name), problems)
              for name, spec in fields.items()}
    built = cls(**_collect(makers, problems, failed=bool(unknown)))
    if hasattr(built, "rules"):  # the schema's rules between its own values, once each one is valid
        problems += built.rules(prefix)
    return built


def _field_value(spec: dataclasses.Field, hint, raw: dict, name: str, key: str, problems: list[str]):
    if name not in raw:
        if spec.default is dataclasses.MISSING:
            raise ParamsError(f"{key}: missing; add it")
        return spec.default
    value = _convert(hint, raw[name], key, problems)
    _check_range(value, spec.metadata, key)
    return value


def _collect(makers: dict[str, Callable[[], Any]], problems: list[str], failed: bool = False) -> dict:
    """Every maker's value by name, each one's problem added to `problems`; then _Reported
    if there was any (or `failed` already)."""
    values = {}
    for name, make in makers.items():
        try:
            values[name] = make()
        except ParamsError as error:
            problems.append(str(error))
            failed = True
        except _Reported:
            failed = True
    if failed:
        raise _Reported
    return values


def _convert(hint, value, key: str, problems: list[str]):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, key, problems)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, problems)
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{key} = {value!r}: must be a list of {args[0].__name__}")
        return [_convert(args[0], item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not value:
            raise ParamsError(f"{key} = {value!r}: must be a non-empty mapping")
        return _collect({str(name): functools.partial(_convert, args[1], item, _join(key, str(name)), problems)
                         for name, item in value.items()}, problems)
    return _scalar(hint, value, key)


def _scalar(hint, value, key: str):
    # YAML reads 1e-3 as a string and 1 as an int: accept ints for floats, never bools.
    if hint is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        raise ParamsError(f"{key} = {value!r}: must be a finite number")
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ParamsError(f"{key} = {value!r}: must be {hint.__name__}, got {type(value).__name__}")


def _check_range(value, check, key: str) -> None:
    if value is None or not check:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if check["choices"] is not None and item not in check["choices"]:
            raise ParamsError(f"{key} = {item!r}: must be one of {', '.join(check['choices'])}")
        if check["positive"] and item <= 0:
            raise ParamsError(f"{key} = {item!r}: must be > 0")
        if check["low"] is not None and item < check["low"]:
            raise ParamsError(f"{key} = {item!r}: must be >= {check['low']}")
        if check["high"] is not None and item > check["high"]:
            raise ParamsError(f"{key} = {item!r}: must be <= {check['high']}")
        if check["power_of_two"] and (item & (item - 1)):
            raise ParamsError(f"{key} = {item!r}: must be a power of two")


def betas_problems(key: str, betas: list[float]) -> list[str]:
    """Adam's two betas, each in [0, 1)."""
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        return [f"{key} = {betas}: must be two numbers in [0, 1)"]
    return []


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def fingerprint(*parts: Any) -> str:
    """A stable sha256 of JSON-able parts (dataclasses included): what a run was made from."""

    def plain(obj):
        return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj

    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
