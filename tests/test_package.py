"""The distribution: one import package, l1_trainer, with MNIST and the icons inside it."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO

SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of this tree, so the checkout gets no build/ folder."""
    src = tmp_path_factory.mktemp("src") / "l1-trainer"
    shutil.copytree(REPO, src, ignore=SKIP)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("l1_trainer-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_installs_only_the_l1_trainer_package(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    info = next(t for t in tops if t.endswith(".dist-info"))
    assert tops == {"l1_trainer", info}
    assert wheel.read(f"{info}/top_level.txt").decode().split() == ["l1_trainer"]
    scripts = wheel.read(f"{info}/entry_points.txt").decode()
    assert "l1-trainer = l1_trainer.main:main" in scripts
    assert "l1-trainer-gui = l1_trainer.main:main_gui" in scripts
    modules = [REPO / "main.py", *(p for folder in ("core", "cli", "gui") for p in (REPO / folder).rglob("*.py"))]
    assert len(modules) > 50
    for path in modules:  # every module of every subpackage: a package left out of pyproject fails here
        assert f"l1_trainer/{path.relative_to(REPO).as_posix()}" in wheel.namelist(), path


def test_wheel_carries_mnist_the_icons_and_the_script_template_unchanged(wheel):
    shipped = sorted((REPO / "resources" / "mnist").iterdir())
    shipped += sorted((REPO / "resources" / "icons").glob("*.png"))
    shipped.append(REPO / "resources" / "icons" / "l1-trainer.svg")
    shipped.append(REPO / "resources" / "script" / "train.py.template")
    assert len(shipped) == 6 + 7 + 1
    for path in shipped:
        inside = f"l1_trainer/{path.relative_to(REPO).as_posix()}"
        assert wheel.read(inside) == path.read_bytes(), inside
    assert not [n for n in wheel.namelist() if n.startswith("l1_trainer/tests")]
