"""core/ is pure Python and PyTorch: importing all of it must not load Qt; PyTorch itself loads
only where it is needed, through one place."""

import ast
import os
import subprocess
import sys

from conftest import REPO


def test_core_never_imports_qt():
    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "core").rglob("*.py")
                     if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import l1_trainer.{m}\n" for m in modules)
        + "qt = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'pyqtgraph'))]\n"
        + "assert not qt, qt\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(modules) >= 8


def _package_files() -> list:
    return [p for folder in ("core", "cli", "gui") for p in (REPO / folder).rglob("*.py")]


def test_imports_are_at_the_top_of_modules():
    """PyTorch-backed names are reached through core/lazy.py; only main.py picks its front end
    inside a function."""
    inside = []
    for path in _package_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{path.relative_to(REPO)}:{n.lineno}" for n in ast.walk(node)
                           if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert inside == []


def test_lazy_names_are_the_names_the_checker_reads():
    tree = ast.parse((REPO / "core" / "lazy.py").read_text())
    guarded = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    checked = {alias.asname or alias.name for n in guarded.body for alias in n.names}
    code = (
        "import importlib, sys\n"
        "from l1_trainer.core import lazy\n"
        "assert 'torch' not in sys.modules, 'importing lazy imported torch'\n"
        "for name, home in lazy._HOMES.items():\n"
        "    module = importlib.import_module(home, 'l1_trainer.core')\n"
        "    expected = module if name == home else getattr(module, name)\n"
        "    assert getattr(lazy, name) is expected, name\n"
        "print(' '.join(sorted(lazy._HOMES)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == checked


def test_help_and_the_runs_list_never_import_torch(tmp_path):
    for args, said in ((["--help"], "usage: l1-trainer"), (["runs"], "No runs kept yet")):
        code = (
            "import sys\n"
            "from l1_trainer.main import main\n"
            f"assert main({args!r}) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
        )
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                env={**os.environ, "L1_TRAINER_DATA": str(tmp_path)})
        assert result.returncode == 0, result.stderr
        assert said in result.stdout
