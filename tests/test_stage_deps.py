"""Every stage in dvc.yaml depends on exactly the library code its command loads.

For each stage, a fresh interpreter runs the command's imports (the stage script's own,
then those that open the command's function) and everything those modules import, even
inside a function (a lazy import runs only on some paths, and its code still shapes the
outputs). Every loaded `facegan` file must be among the stage's deps (too few: stale
metrics), and every library file the deps name must be loaded (too many: one model's edit
re-runs the others). A docstring-only `__init__.py` holds no code and is not required.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "facegan"

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


def _stages() -> dict[str, dict]:
    """dvc.yaml's stages, `foreach` ones expanded over params.yaml as DVC names them."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    stages = {}
    for name, stage in dvc["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        items = params
        for key in stage["foreach"].strip("${}").split("."):
            items = items[key]
        for key in items:
            body = json.loads(json.dumps(stage["do"]).replace("${key}", str(key)))
            stages[f"{name}@{key}"] = body
    return stages


STAGES = _stages()


def _code_only(path: Path) -> bool:
    """Whether a file holds code (not a package marker with only a docstring)."""
    body = ast.parse(path.read_text()).body
    return not (path.name == "__init__.py" and all(isinstance(n, ast.Expr) for n in body))


def _loaded(script: str, command: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, script, command], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    return {Path(f).resolve().relative_to(ROOT).as_posix() for f in json.loads(result.stdout)}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def _library_files(deps: list[str]) -> set[str]:
    """The library .py files that `deps` name, directly or as a folder."""
    named = set()
    for dep in deps:
        target = ROOT / dep
        if dep.startswith("src/"):
            files = [target] if target.is_file() else target.rglob("*.py")
            named |= {p.relative_to(ROOT).as_posix() for p in files if _code_only(p)}
    return named


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_the_code_it_loads(name):
    stage = STAGES[name]
    _, script, command, *_ = stage["cmd"].split()
    deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage["deps"]]
    loaded = {path for path in _loaded(script, command) if _code_only(ROOT / path)}
    assert script in deps, f"{name}: its script {script} is not among its deps"
    missing = sorted(path for path in loaded if not _covered(path, deps))
    assert not missing, f"{name} loads {missing}, which its deps in dvc.yaml do not cover: its outputs would go stale"
    unused = sorted(_library_files(deps) - loaded)
    assert not unused, f"{name} depends on {unused}, which it never loads: an edit there would re-run it for nothing"


def _is_command(function: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
               for d in function.decorator_list)


def test_stage_commands_import_only_at_their_start():
    """The probe runs a command's leading imports; an import further down, or in another
    function of the script, would escape it."""
    late = []
    for script in sorted((ROOT / "stages").glob("*.py")):
        for function in (n for n in ast.walk(ast.parse(script.read_text())) if isinstance(n, ast.FunctionDef)):
            body = function.body[1:] if ast.get_docstring(function) else function.body
            leading = _is_command(function)
            for node in body:
                is_import = isinstance(node, (ast.Import, ast.ImportFrom))
                nested = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                if (is_import and not leading) or (not is_import and nested):
                    late.append(f"{script.name}:{node.lineno} in {function.name}")
                leading = leading and is_import
    assert not late, f"imports outside the start of a command: {late}"


def test_the_library_imports_itself_only_by_absolute_name():
    """The probe follows `from facegan.x import y` and `import facegan.x`: a relative import
    or an import by a computed name would hide a dependency from it."""
    hidden = []
    for path in sorted(LIBRARY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            relative = isinstance(node, ast.ImportFrom) and node.level > 0
            computed = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("import_module", "__import__")
                        and not (node.args and isinstance(node.args[0], ast.Constant)
                                 and not str(node.args[0].value).startswith("facegan")))
            if relative or computed:
                hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, hidden


def test_the_library_has_no_import_cycles():
    """Module-level imports between facegan modules form no cycle (a lazy import inside a
    function does not count: it runs after every module is loaded)."""
    graph = {}
    for path in LIBRARY.rglob("*.py"):
        name = ".".join(path.relative_to(LIBRARY.parent).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = set()
        for node in ast.parse(path.read_text()).body:  # top level only; `if TYPE_CHECKING:` blocks are skipped
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("facegan"):
                graph[name] |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name.startswith("facegan")}
    graph = {name: {d for d in deps if d in graph and d != name} for name, deps in graph.items()}
    state, cycles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(trail[trail.index(dep):] + [dep]) if dep in trail else f"{name} -> {dep}")
            elif dep not in state:
                visit(dep, trail + [dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_readme_draws_the_dag_that_dvc_yaml_defines():
    """The README's mermaid block is `dvc dag --mermaid` of this dvc.yaml: a stage added or
    rewired shows there."""
    drawn = subprocess.run([sys.executable, "-m", "dvc", "dag", "--mermaid"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```mermaid\n") + len("```mermaid\n"):]
    assert block[: block.index("```")] == drawn.rstrip("\n") + "\n"
