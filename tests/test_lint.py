"""The code stays clean: ruff (configured in pyproject.toml), no import cycles in the package, small GUI classes."""

import ast
import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycles_between_modules():
    """Module-level imports only: an import inside a function is deliberate (lazy) and runs later."""
    modules = {f"{folder}.{p.stem}": p for folder in ("core", "gui") for p in (REPO / folder).glob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("l1_trainer."):
                targets.add(node.module.removeprefix("l1_trainer."))
        graph[name] = targets & set(modules)

    def visit(node, trail):
        if node in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(node):], node]))
        for target in graph[node]:
            visit(target, [*trail, node])

    for module in graph:
        visit(module, [])
    assert graph["gui.window"] and "core.session" in graph["gui.window"]


def test_the_window_stays_in_small_pieces():
    """window.py is layout, menus, dialogs and persistence; no class of the GUI grows into a
    second application model."""
    assert len((REPO / "gui" / "window.py").read_text().splitlines()) <= 450
    for path in (REPO / "gui").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno - node.lineno + 1 <= 300, f"{path.name}: {node.name}"
