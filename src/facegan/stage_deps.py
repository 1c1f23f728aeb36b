"""Each stage's code deps in dvc.yaml, computed: exactly the library files its command loads.

For a stage, a fresh interpreter runs the command's imports (the stage script's own, then
those that open the command's function) and everything those modules import, even inside a
function (a lazy import runs only on some paths, and its code still shapes the outputs).
Too few deps and metrics go stale; too many and one model's edit re-runs the others. A
docstring-only `__init__.py` holds no code and is left out.

`make deps` (`python -m facegan.stage_deps`) writes them into dvc.yaml: each stage's
`src/` entries are replaced by the computed list, at the place of the first one, and every
other line (comments, the script, data deps, order) is kept. tests/test_stage_deps.py
fails, showing the difference, when dvc.yaml is not what this writes.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from facegan import pipeline
from facegan.pipeline import ROOT, Stage

LIBRARY_PREFIX = "src/facegan/"

# Runs in a fresh interpreter: argv = script, command. Prints the loaded facegan files.
PROBE = r"""
import ast, importlib, importlib.util, json, sys
from pathlib import Path

script, command = Path(sys.argv[1]), sys.argv[2]
spec = importlib.util.spec_from_file_location("stage_script", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
callback = next(c.callback for c in module.app.registered_commands if c.name == command)
tree = ast.parse(script.read_text())
function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == callback.__name__)
for node in function.body:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        exec(compile(ast.Module([node], []), str(script), "exec"), {})

def facegan_imports(path):
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "facegan":
            yield node.module
            for alias in node.names:  # `from facegan.x import y` may name a module y
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "facegan")

def import_if_module(name):
    try:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    except ModuleNotFoundError:  # `from facegan.x import y` where y is not a module
        pass

seen = set()
while True:
    files = {m.__file__ for n, m in list(sys.modules.items())
             if n.split(".")[0] == "facegan" and getattr(m, "__file__", None)}
    if files == seen:
        break
    for path in files - seen:
        for name in facegan_imports(path):
            import_if_module(name)
    seen = files
print(json.dumps(sorted(seen)))
"""


def stages(root: Path = ROOT) -> dict[str, Stage]:
    """dvc.yaml's stages as DVC names them (`train_pgan@4`), resolved against params.yaml."""
    return pipeline.stages(yaml.safe_load((root / "params.yaml").read_text()), root)


def holds_code(path: Path) -> bool:
    """Whether a file holds code (not a package marker with only a docstring)."""
    body = ast.parse(path.read_text()).body
    return not (path.name == "__init__.py" and all(isinstance(node, ast.Expr) for node in body))


def code_deps(stage: Stage, root: Path = ROOT) -> list[str]:
    """The library files `stage`'s command loads, as dvc.yaml lists them: the sub-packages'
    files first, then the top-level modules, each group sorted."""
    script, command = stage.script
    result = subprocess.run([sys.executable, "-c", PROBE, script, command], cwd=root, capture_output=True,
                            text=True)
    if result.returncode:
        raise RuntimeError(f"importing {script} {command} failed:\n{result.stderr}")
    loaded = {Path(file).resolve().relative_to(root).as_posix() for file in json.loads(result.stdout)}
    return sorted((path for path in loaded if holds_code(root / path)),
                  key=lambda path: (path.count("/") == 2, path))


def all_code_deps(root: Path = ROOT) -> dict[str, list[str]]:
    """{stage name as dvc.yaml writes it: its code deps}; a `foreach` stage's items must all
    load the same code, since they share one deps list."""
    expanded = stages(root)
    with ThreadPoolExecutor(2) as pool:  # each probe is a process of its own
        computed = dict(zip(expanded, pool.map(lambda stage: code_deps(stage, root), expanded.values())))
    by_name: dict[str, list[str]] = {}
    for name, deps in computed.items():
        base = name.split("@")[0]
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
