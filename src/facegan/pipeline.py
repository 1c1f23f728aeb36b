"""dvc.yaml's stages as the library reads them: each one with `foreach` expanded and every
`${...}` resolved against the params, as DVC names and runs it (`train_pgan@8`), its deps
split into code (stages/, src/) and data, the params keys it declares and the paths it
writes (outs, metrics and plots).

A train stage fingerprints exactly these inputs (`facegan.training.inputs`) and `make deps`
writes the code ones (`facegan.stage_deps`): one list, dvc.yaml's, for both. Imports no torch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from facegan.params import fingerprint

ROOT = Path(__file__).resolve().parents[2]  # the checkout: dvc.yaml, stages/, src/
CODE_PREFIXES = ("stages/", "src/")
REFERENCE = re.compile(r"\$\{([\w.]+)\}")


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    deps: tuple[str, ...]
    params: tuple[str, ...]  # dotted keys of the params file
    outs: tuple[str, ...] = ()  # outs, metrics and plots

    @property
    def code(self) -> tuple[str, ...]:
        return tuple(dep for dep in self.deps if dep.startswith(CODE_PREFIXES))

    @property
    def data(self) -> tuple[str, ...]:
        return tuple(dep for dep in self.deps if not dep.startswith(CODE_PREFIXES))

    @property
    def script(self) -> tuple[str, str]:
        """(script, command) of its `python stages/x.py command ...`."""
        _, script, command, *_ = self.cmd.split()
        return script, command


def lookup(params: Any, dotted: str) -> Any:
    """The value at a dotted key (`pgan.scales.8`) of params, typed (loaded sections,
    dataclasses) or plain (dicts)."""
    value = params
    for part in dotted.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def stages(params: Any, root: Path = ROOT) -> dict[str, Stage]:
    """Every stage of `root`/dvc.yaml by its DVC name, resolved against `params` (typed, or the
    params file as loaded YAML): a `foreach` stage gives one stage per item, `name@key`."""
    return {name: resolved for base, definition in _definitions(root).items()
            for name, resolved in _expanded(base, definition, params).items()}


def stage(name: str, params: Any, root: Path = ROOT) -> Stage:
    """One stage by its DVC name, resolved against `params`, which need hold only what that
    stage's definition names; a name dvc.yaml does not give is an error that lists those it does."""
    definitions = _definitions(root)
    base = name.partition("@")[0]
    expanded = _expanded(base, definitions[base], params) if base in definitions else {}
    if name not in expanded:
        raise KeyError(f"{root / 'dvc.yaml'} has no stage {name!r} (it has {', '.join(expanded or definitions)})")
    return expanded[name]


def _definitions(root: Path) -> dict[str, dict]:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def _expanded(name: str, definition: dict, params: Any) -> dict[str, Stage]:
    """A definition as its stages: itself, or one per item of its `foreach`."""
    if "foreach" not in definition:
        return {name: _resolved(name, definition, params, {})}
    items = lookup(params, definition["foreach"].strip("${}"))
    return {f"{name}@{key}": _resolved(f"{name}@{key}", definition["do"], params, {"key": key, "item": item})
            for key, item in items.items()}


def _resolved(name: str, definition: dict, params: Any, local: dict[str, Any]) -> Stage:
    def value(match: re.Match) -> str:
        head, _, rest = match.group(1).partition(".")
        if head in local:
            return str(lookup(local[head], rest) if rest else local[head])
        return str(lookup(params, match.group(1)))

    def resolve(entry: str | dict) -> str:  # a dep may map its path to its options
        return REFERENCE.sub(value, entry if isinstance(entry, str) else next(iter(entry)))

    keys = definition.get("params", [])
    if not all(isinstance(key, str) for key in keys):
        raise ValueError(f"{name}: params from another file than params.yaml are not read here: {keys}")
    outs = [entry for kind in ("outs", "metrics", "plots") for entry in definition.get(kind, [])]
    return Stage(name, resolve(definition["cmd"]), tuple(map(resolve, definition.get("deps", []))),
                 tuple(map(resolve, keys)), tuple(map(resolve, outs)))


def upstream(targets: list[str], every: dict[str, Stage]) -> set[str]:
    """The stages that `dvc repro TARGETS` may run: the targets and every stage whose outputs
    they read, transitively. A target is a stage name (`train_pgan@8`) or a `foreach` group's
    (`train_pgan`: all of its items)."""
    todo = []
    for target in targets:
        named = [name for name in every if name == target or name.startswith(f"{target}@")]
        if not named:
            raise KeyError(f"dvc.yaml has no stage {target!r} (it has {', '.join(every)})")
        todo += named
    producers = {out: name for name, stage in every.items() for out in stage.outs}
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        todo += [producer for dep in every[name].data for out, producer in producers.items()
                 if _overlap(dep, out)]
    return reached


def _overlap(path: str, other: str) -> bool:
    """Whether one path is the other or holds it."""
    return path == other or path.startswith(f"{other}/") or other.startswith(f"{path}/")


def params_fingerprint(name: str, params: Any, root: Path = ROOT) -> str:
    """One digest of the params keys the stage `name` declares, at their values in `params`."""
    return fingerprint(*(lookup(params, key) for key in stage(name, params, root).params))
