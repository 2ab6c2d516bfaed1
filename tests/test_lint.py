"""The code stays clean: ruff (configured in pyproject.toml), no import cycles in the package, small GUI classes."""

import ast
import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_types_check(tmp_path):
    """mypy on the whole package (core, cli, gui, main): it is reached through a link named
    l1_trainer, as it installs (the editable install's import hook is nothing a checker follows)."""
    (tmp_path / "l1_trainer").symlink_to(REPO)
    packages = [arg for name in ("core", "cli", "gui", "main") for arg in ("-p", f"l1_trainer.{name}")]
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
                             "--no-incremental", *packages], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def imports() -> dict[str, set[str]]:
    """Each module of the package (`core.app.session`, `gui.window`) and the modules of the
    package it imports at module level (relative imports resolved)."""
    paths = {".".join(p.relative_to(REPO).with_suffix("").parts): p
             for folder in ("core", "gui", "cli") for p in (REPO / folder).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name.split(".")[:-1] if path.stem != "__init__" else name.split(".")[:-1]
        targets = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = (node.module or "").removeprefix("l1_trainer.")
                targets.add(module)
                targets.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import x`
        graph[name] = targets & set(paths)
    return graph


def test_no_import_cycles_between_modules():
    """Module-level imports only: an import inside a function is deliberate (lazy) and runs later."""
    graph = imports()

    def visit(node, trail):
        if node in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(node):], node]))
        for target in graph[node]:
            visit(target, [*trail, node])

    for module in graph:
        visit(module, [])
    assert graph["gui.window"] and "core.app.session" in graph["gui.window"]


# Each part imports only parts before it: the numerics know nothing of the application model,
# which knows nothing of files; the front ends (the command line, the window) know nothing of
# each other. errors and lazy (PyTorch-backed names, loaded on use) serve every part.
LAYERS = ("core.training", "core.app", "core.files", "cli", "gui")
FRONT_ENDS = ("cli", "gui")
SHARED = ("core.errors", "core.lazy")


def test_packages_depend_one_way():
    def part(module):
        return next(name for name in LAYERS if module == name or module.startswith(name + "."))

    def allowed(a, b):
        if b in SHARED or part(a) == part(b):
            return True
        if part(a) in FRONT_ENDS:
            return part(b) not in FRONT_ENDS
        return LAYERS.index(part(b)) < LAYERS.index(part(a))

    graph = imports()
    wrong = [f"{a} imports {b}" for a, targets in graph.items() if a not in SHARED
             for b in targets if not allowed(a, b)]
    assert wrong == []
    assert "core.app.records" in graph["core.files.store"]  # the check sees real imports


def test_the_window_stays_in_small_pieces():
    """window.py is layout, menus, dialogs and persistence; no class of the GUI grows into a
    second application model."""
    assert len((REPO / "gui" / "window.py").read_text().splitlines()) <= 450
    for path in (REPO / "gui").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno - node.lineno + 1 <= 300, f"{path.name}: {node.name}"
