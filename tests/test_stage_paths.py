"""Each stage script's path defaults are the paths dvc.yaml declares for its stage: DVC runs
the commands with no path options, so a default that drifts from dvc.yaml reads or writes
a path that DVC neither tracks nor caches."""
from __future__ import annotations

import importlib.util
import inspect
import typing
from functools import cache
from pathlib import Path

import pytest
import yaml
from typer.models import ParameterInfo

from facegan.evaluation import details_path
from facegan.pipeline import ROOT, stages

STAGES = stages(yaml.safe_load((ROOT / "params.yaml").read_text()), ROOT)
PARAMS_FILE = "params.yaml"  # DVC reads a stage's `params:` keys from it, unless a key names another file


@cache
def script_app(script: str):
    """The Typer app of a stage script, loaded as facegan.stage_deps's probe loads it."""
    spec = importlib.util.spec_from_file_location(f"stage_script_{Path(script).stem}", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def path_defaults(script: str, command: str) -> dict[str, str]:
    """{parameter: its default} for the Path-typed parameters of `script`'s `command`."""
    callback = next(c.callback for c in script_app(script).registered_commands if c.name == command)
    hints = typing.get_type_hints(callback)
    defaults = {}
    for name, parameter in inspect.signature(callback).parameters.items():
        default = parameter.default
        if isinstance(default, ParameterInfo):
            default = default.default
        if hints[name] is Path and isinstance(default, Path):
            defaults[name] = default.as_posix()
    return defaults


def within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(f"{folder}/")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_path_defaults_are_the_paths_dvc_yaml_declares(name):
    stage = STAGES[name]
    script, command = stage.script
    assert "--" not in stage.cmd, f"{name}: `{stage.cmd}` sets an option, so its defaults are not what DVC runs"
    defaults = path_defaults(script, command)
    assert defaults.pop("params_file") == PARAMS_FILE, f"{name}: --params must default to DVC's {PARAMS_FILE}"
    declared = stage.data + stage.outs

    # A default is a declared path, or a folder the command builds declared paths in
    # (`root`: data/pgan, for data/pgan/<scale>/model.pt).
    for option, default in defaults.items():
        assert any(within(path, default) for path in declared), (
            f"{name}: --{option} defaults to {default}, which dvc.yaml neither declares nor holds a path of: "
            f"{sorted(declared)}")
    # What the command reads and writes is a default or derived from one: a path in a folder
    # default (data/pgan/${item.prev}/model.pt from `root`), or the record beside a metrics file.
    derived = {details_path(Path(default)).as_posix() for default in defaults.values()}
    for path in declared:
        assert path in derived or any(within(path, default) for default in defaults.values()), (
            f"{name}: dvc.yaml declares {path}, but no default of `{script} {command}` reaches it: "
            f"{defaults}")
