"""Every stage in dvc.yaml depends on exactly the library code its command loads (see
facegan.stage_deps, which `make deps` runs to write them), the library keeps its imports
where that reading of the source sees them, and what a fresh interpreter loads agrees."""
from __future__ import annotations

import ast
import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from facegan.stage_deps import LIBRARY_PREFIX, code_deps, holds_code, rewritten, stages

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "facegan"
STAGES = stages(ROOT)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_the_code_it_loads(name):
    """Too few and its outputs go stale; too many and an edit elsewhere re-runs it."""
    stage = STAGES[name]
    script, _ = stage.script
    deps = stage.deps
    assert script in deps, f"{name}: its script {script} is not among its deps"
    listed = [dep for dep in deps if dep.startswith(LIBRARY_PREFIX)]
    loaded = code_deps(stage, ROOT)
    difference = "\n".join(difflib.unified_diff(listed, loaded, "dvc.yaml", "loaded", lineterm=""))
    assert listed == loaded, f"{name}: dvc.yaml's code deps are not the files it loads: run `make deps`\n{difference}"


# Runs in a fresh interpreter: argv = script, command. The stage script is run as a module (its
# top-level imports), then the command's leading imports; prints the library files then loaded.
RUNTIME_PROBE = r"""
import ast, importlib.util, json, sys
from pathlib import Path

script, command = Path(sys.argv[1]), sys.argv[2]
spec = importlib.util.spec_from_file_location("stage_script", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
callback = next(c.callback for c in module.app.registered_commands if c.name == command)
function = next(n for n in ast.parse(script.read_text()).body
                if isinstance(n, ast.FunctionDef) and n.name == callback.__name__)
for node in function.body:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        exec(compile(ast.Module([node], []), str(script), "exec"), {})
print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())
                        if n.split(".")[0] == "facegan" and getattr(m, "__file__", None))))
"""


@pytest.mark.parametrize("name", ["train_pgan@4", "evaluate_stargan", "export_hifacegan", "degrade_ffhq",
                                  "download_weights"])
def test_what_a_command_loads_is_among_the_deps_read_off_its_source(name):
    """An independent check of that reading, on one stage of each stage script:
    every library file a fresh interpreter loads running the command's imports is listed (the
    listing holds more: the modules imported lazily, inside functions, which this run skips)."""
    script, command = STAGES[name].script
    result = subprocess.run([sys.executable, "-c", RUNTIME_PROBE, script, command], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    loaded = {Path(file).resolve().relative_to(ROOT).as_posix() for file in json.loads(result.stdout)
              if holds_code(Path(file))}
    assert "src/facegan/entrypoints.py" in loaded  # the probe saw the script's own imports
    assert loaded <= set(code_deps(STAGES[name], ROOT)), (name, loaded - set(code_deps(STAGES[name], ROOT)))


def test_make_deps_rewrites_only_the_library_entries():
    """`make deps` replaces a stage's src/ entries where they were, adds them after the script
    where there were none, and keeps comments, data deps and other stages as they are."""
    text = """stages:
  a:
    cmd: python stages/a.py run
    deps:
      # the script, then its code
      - stages/a.py
      - src/facegan/old.py
      - src/facegan/models/old.py
      - data/raw/x
    params:
      - lr
  b:
    foreach: [1, 2]
    do:
      cmd: python stages/b.py run ${key}
      deps:
        - stages/b.py
      outs:
        - data/b
  c:
    cmd: python stages/c.py run
    deps:
      - stages/c.py
      - src/facegan/kept.py
"""
    new = {"a": ["src/facegan/models/new.py", "src/facegan/new.py"], "b": ["src/facegan/b.py"]}
    assert rewritten(text, new) == text.replace(
        "      - src/facegan/old.py\n      - src/facegan/models/old.py\n",
        "      - src/facegan/models/new.py\n      - src/facegan/new.py\n").replace(
        "        - stages/b.py\n", "        - stages/b.py\n        - src/facegan/b.py\n")


def _is_command(function: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
               for d in function.decorator_list)


def test_stage_commands_import_only_at_their_start():
    """stage_deps reads a command's leading imports; an import further down, or in another
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
    """stage_deps follows `from facegan.x import y` and `import facegan.x`: a relative import
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
