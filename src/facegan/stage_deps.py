"""Each stage's code deps in dvc.yaml, computed: exactly the library files its command loads.

For a stage, they are the library modules that the stage script imports at its top and at
the start of the command's function, and, transitively, every library module that those
import anywhere in their code, even inside a function (a lazy import runs only on some
paths, and its code still shapes the outputs), with the packages that hold them. Read off
the source, without running it: the library imports itself only by absolute name, and
tests/test_stage_deps.py checks this reading against the modules a fresh interpreter loads.
Too few deps and metrics go stale; too many and one model's edit re-runs the others. A
docstring-only `__init__.py` holds no code and is left out.

`make deps` (`python -m facegan.stage_deps`) writes them into dvc.yaml: each stage's
`src/` entries are replaced by the computed list, at the place of the first one, and every
other line (comments, the script, data deps, order) is kept. tests/test_stage_deps.py
fails, showing the difference, when dvc.yaml is not what this writes.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from facegan import pipeline
from facegan.pipeline import ROOT, Stage

LIBRARY_PREFIX = "src/facegan/"
PACKAGE = "facegan"


def stages(root: Path = ROOT) -> dict[str, Stage]:
    """dvc.yaml's stages as DVC names them (`train_pgan@4`), resolved against params.yaml."""
    return pipeline.stages(yaml.safe_load((root / "params.yaml").read_text()), root)


def holds_code(path: Path) -> bool:
    """Whether a file holds code (not a package marker with only a docstring)."""
    body = ast.parse(path.read_text()).body
    return not (path.name == "__init__.py" and all(isinstance(node, ast.Expr) for node in body))


def library_imports(nodes: Iterable[ast.AST]) -> Iterator[str]:
    """The library names that the import statements among `nodes` name: for `from facegan.x
    import y`, both facegan.x and facegan.x.y (y may be a module)."""
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)


def module_file(name: str, src: Path) -> Path | None:
    """The file of module `name` under `src`, or None where the name is not a module."""
    base = src.joinpath(*name.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def loaded_files(names: Iterable[str], src: Path) -> set[Path]:
    """The files that importing the library modules among `names` loads: each module, the
    packages above it, and, transitively, what any of them imports anywhere in its code."""
    files: set[Path] = set()
    pending = list(names)
    while pending:
        parts = pending.pop().split(".")
        for depth in range(1, len(parts) + 1):  # facegan, facegan.x, facegan.x.y: each is run on import
            path = module_file(".".join(parts[:depth]), src)
            if path is None:  # an attribute, not a module
                break
            if path not in files:
                files.add(path)
                pending.extend(library_imports(ast.walk(ast.parse(path.read_text()))))
    return files


def command_imports(script: Path, command: str) -> list[str]:
    """The library names the stage script imports at its top and at the start of the function
    that `@app.command(command)` registers (tests/test_stage_deps.py keeps imports there)."""
    tree = ast.parse(script.read_text())
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
        and [getattr(a, "value", None) for a in d.args] == [command] for d in node.decorator_list)), None)
    if function is None:
        raise RuntimeError(f'{script} has no function registered as @app.command("{command}")')
    return list(library_imports([*tree.body, *function.body]))


def code_deps(stage: Stage, root: Path = ROOT) -> list[str]:
    """The library files `stage`'s command loads, as dvc.yaml lists them: the sub-packages'
    files first, then the top-level modules, each group sorted."""
    script, command = stage.script
    files = loaded_files(command_imports(root / script, command), root / "src")
    loaded = {path.relative_to(root).as_posix() for path in files if holds_code(path)}
    return sorted(loaded, key=lambda path: (path.count("/") == 2, path))


def all_code_deps(root: Path = ROOT) -> dict[str, list[str]]:
    """{stage name as dvc.yaml writes it: its code deps}; a `foreach` stage's items must all
    load the same code, since they share one deps list."""
    by_name: dict[str, list[str]] = {}
    for name, stage in stages(root).items():
        deps, base = code_deps(stage, root), name.split("@")[0]
        if by_name.setdefault(base, deps) != deps:
            raise RuntimeError(f"the items of {base} load different code ({name}: {deps}), but share one deps list")
    return by_name


STAGE_LINE = re.compile(r"^  (\w+):\s*$")
DEPS_LINE = re.compile(r"^(\s+)deps:\s*$")
ITEM_LINE = re.compile(r"^(\s+)- (\S+)")


def rewritten(text: str, deps_by_stage: dict[str, list[str]]) -> str:
    """dvc.yaml's `text` with each stage's `src/` deps replaced by `deps_by_stage[stage]`,
    written where the first of them was (after the stage script when there was none)."""
    lines, out = text.splitlines(keepends=True), []
    stage, in_deps, deps_indent, written = None, False, 0, False
    for line in lines:
        if match := STAGE_LINE.match(line):
            stage = match.group(1)
        if in_deps and line.strip() and not line.lstrip().startswith("#"):
            item = ITEM_LINE.match(line)
            if item is None or len(item.group(1)) <= deps_indent:  # the list has ended
                in_deps = False
            elif item.group(2).startswith(LIBRARY_PREFIX):
                if not written:
                    out.extend(f"{item.group(1)}- {dep}\n" for dep in deps_by_stage[stage])
                    written = True
                continue
            elif not written and item.group(2).startswith("stages/"):
                out.append(line)
                out.extend(f"{item.group(1)}- {dep}\n" for dep in deps_by_stage[stage])
                written = True
                continue
        if match := DEPS_LINE.match(line):
            in_deps, deps_indent, written = stage in deps_by_stage, len(match.group(1)), False
        out.append(line)
    return "".join(out)


def main() -> None:
    """Rewrite dvc.yaml's code deps; say which stages changed."""
    path = ROOT / "dvc.yaml"
    before = path.read_text()
    deps_by_stage = all_code_deps()
    after = rewritten(before, deps_by_stage)
    if after == before:
        print("dvc.yaml: every stage's code deps are current")
        return
    path.write_text(after)
    changed = [name for name in deps_by_stage if rewritten(before, {name: deps_by_stage[name]}) != before]
    print(f"dvc.yaml: rewrote the code deps of {', '.join(changed)}")


if __name__ == "__main__":
    main()
