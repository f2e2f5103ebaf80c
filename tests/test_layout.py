"""The shape of the code: an acyclic import graph, settings modules of a readable size, one vocabulary.

All three read the source with `ast` (no import runs), so they hold for imports inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stacks", "components", "metrics", "dashboards", "tooling")
SETTINGS_DIR = ROOT / "stacks" / "settings"
MAX_SETTINGS_LINES = 350
VOCABULARY_PACKAGES = ("stacks", "components")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(packages: tuple[str, ...]) -> dict[str, Path]:
    return {_module_name(path): path for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those only type checkers run (`if TYPE_CHECKING:`)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import of `name` loads: the name itself or its longest project prefix."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    graph[name].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that starts and ends at the same module, or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for node in sorted(graph):
        if node not in done:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph(_modules(PACKAGES))
    assert graph["stacks.settings.stack"], "the graph reader found no imports"
    cycle = find_cycle(graph)
    if cycle:
        print("import cycle: " + " -> ".join(cycle))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_inside_a_function() -> None:
    source = {"a": "def f():\n    import b\n", "b": "from a import f\n", "c": "if TYPE_CHECKING:\n    import a\n"}
    graph = {
        name: {
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in _imports(ast.parse(text))
            for alias in node.names
        }
        for name, text in source.items()
    }
    assert graph["c"] == set()
    assert find_cycle(graph) == ["a", "b", "a"]


def test_settings_modules_stay_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in sorted(SETTINGS_DIR.glob("*.py"))}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_SETTINGS_LINES}
    assert not too_long, f"settings modules over {MAX_SETTINGS_LINES} lines (split them by area): {too_long}"


def _literal_values(node: ast.Subscript) -> frozenset[object]:
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return frozenset(ast.unparse(element) for element in elements)


def test_each_enumeration_is_written_once() -> None:
    """A `Literal[...]` with one set of values lives in one module (components/vocabulary.py); others import it."""
    written_in: dict[frozenset[object], set[str]] = defaultdict(set)
    for name, path in _modules(VOCABULARY_PACKAGES).items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Subscript) and (
                (isinstance(node.value, ast.Name) and node.value.id == "Literal")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "Literal")
            ):
                written_in[_literal_values(node)].add(name)
    repeated = {
        tuple(sorted(map(str, values))): sorted(names) for values, names in written_in.items() if len(names) > 1
    }
    assert not repeated, f"the same Literal in several modules (define it once in components.vocabulary): {repeated}"


def test_no_local_environment_is_tracked():
    # A tracked `.venv` (even a symlink, which the folder pattern `.venv/` does not ignore) would replace a
    # clone's own virtualenv and break `make test`.
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert not [path for path in tracked.splitlines() if path.split("/")[0] in {".venv", "build", "policy/venv"}]
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", ".venv"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_the_program_never_imports_the_offline_tooling():
    # `pulumi up` runs the program without tooling/ (mocks, plan, diff): docs/architecture.md says so.
    check = "import sys, stacks.program; print(sorted(m for m in sys.modules if m.split('.')[0] == 'tooling'))"
    loaded = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
