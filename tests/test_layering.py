"""core/ is pure Python and PyTorch: importing all of it must not load Qt."""

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
