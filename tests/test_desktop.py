"""Launching like a desktop app: entry points, menu entry, first-run guide, Help, robust start."""

import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from l1_trainer.cli import desktop
from l1_trainer.gui.help import MNIST_ATTRIBUTION, HelpDialog

from conftest import REPO
from test_gui import make_window


def test_gui_launcher_entry_point_starts_the_window(qtbot):
    (entry,) = [e for e in metadata.entry_points(group="gui_scripts") if e.name == "l1-trainer-gui"]
    assert entry.value == "l1_trainer.main:main_gui"
    (cli,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "l1-trainer"]
    assert cli.value == "l1_trainer.main:main"
    seen = []

    def close_when_shown():
        windows = [w for w in QApplication.topLevelWidgets() if w.objectName() == "" and w.isVisible()
                   and w.windowTitle().startswith("L1 Trainer")]
        seen.extend(w.windowTitle() for w in windows)
        for window in windows:
            window.close()
        if not windows:  # not shown yet on a slow machine: look again
            QTimer.singleShot(100, close_when_shown)

    stuck = []

    def give_up():
        # app.exec() has no timeout of its own: a window that never closes (or a message box
        # waiting for a click) becomes this failure, naming what was on screen, not a hang.
        stuck.extend(f"{w.windowTitle()!r} {w.text() if isinstance(w, QMessageBox) else ''}"
                     for w in QApplication.topLevelWidgets() if w.isVisible())
        QApplication.instance().exit(99)

    QTimer.singleShot(500, close_when_shown)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(give_up)
    guard.start(60_000)
    code = entry.load()()
    guard.stop()  # it must not fire in a later test's event loop
    assert code == 0, f"the app did not quit; on screen: {stuck}"
    assert seen and seen[0].startswith("L1 Trainer 0.")


def test_desktop_entry_is_written_validated_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    written = desktop.install()
    entry = tmp_path / "applications" / "l1-trainer.desktop"
    assert entry in written and all(p.exists() for p in written)
    assert (tmp_path / "icons/hicolor/256x256/apps/l1-trainer.png").exists()
    assert (tmp_path / "icons/hicolor/scalable/apps/l1-trainer.svg").exists()
    text = entry.read_text()
    assert "Exec=" in text and "Icon=l1-trainer" in text and "Terminal=false" in text
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    removed = desktop.uninstall()
    assert set(removed) == set(written) and not entry.exists()


def test_the_standalone_apps_entry_starts_its_own_executable(tmp_path, monkeypatch):
    """In the unpacked bundle sys.executable is the app itself: no Python, no -m."""
    app = tmp_path / "unpacked folder" / "l1-trainer"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app))
    assert desktop.launcher() == f'"{app}"'
    assert f'Exec="{app}"\n' in desktop.entry_text(desktop.launcher())


def test_desktop_entry_from_the_command_line(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "l1_trainer.main", "--install-desktop-entry"], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "Wrote 8 file(s)" in result.stdout
    assert (tmp_path / "applications" / "l1-trainer.desktop").exists()
    result = subprocess.run([sys.executable, "-m", "l1_trainer.main", "--uninstall-desktop-entry"], cwd=REPO,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and not (tmp_path / "applications" / "l1-trainer.desktop").exists()


def test_exec_line_quotes_paths_with_spaces():
    assert desktop._quote("/opt/my apps/l1") == '"/opt/my apps/l1"'
    assert desktop._quote("/usr/bin/l1-trainer-gui") == "/usr/bin/l1-trainer-gui"


def test_first_run_guide_appears_once_and_not_after_dismissal(qtbot, tmp_path, mnist):
    path = tmp_path / "fresh.ini"
    first = make_window(qtbot, path, mnist)
    guide = first.guide
    assert guide.isVisible() and "Press <b>Start</b>" in guide.label.text()
    qtbot.mouseClick(guide.close_button, Qt.MouseButton.LeftButton)
    assert not guide.isVisible()
    first.close()
    second = make_window(qtbot, path, mnist)
    assert not second.guide.isVisible()
    second.close()


def test_about_shows_version_license_and_mnist_attribution(qtbot, tmp_path, mnist):
    window = make_window(qtbot, tmp_path / "about.ini", mnist)
    # The menu itself, not QAction.menu(): under PySide6 6.8.0 that wrapper dies with the action's.
    help_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Help")
    about = next(a for a in help_menu.actions() if a.text() == "About L1 Trainer")
    about.trigger()
    box = window.findChild(HelpDialog, "helpDialog")
    text = box.text()
    assert "Creative Commons Attribution-Share Alike 3.0" in text and MNIST_ATTRIBUTION in text
    assert "License: MIT" in text and window.windowTitle().split()[-1] in text
    box.close()
    shortcuts = next(a for a in help_menu.actions() if a.text() == "Keyboard shortcuts")
    shortcuts.trigger()
    assert "Shift+F5" in window.findChildren(HelpDialog, "helpDialog")[-1].text()
    assert all(d.height() <= window.screen().availableGeometry().height() - 80
               for d in window.findChildren(HelpDialog))  # fits a 700-pixel screen too
    window.close()


def test_no_display_is_one_line_and_exit_1():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "l1_trainer.main"], cwd=REPO, capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1
    assert "no display found" in result.stderr and result.stderr.count("\n") == 1


def test_damaged_bundled_data_is_reported_at_start(qtbot, tmp_path, monkeypatch):
    from l1_trainer.core.files.data import DataError

    def damaged(*args, **kwargs):
        raise DataError("resources/mnist/t10k-images-idx3-ubyte.gz is damaged")

    monkeypatch.setattr("l1_trainer.core.lazy.load_mnist", damaged)
    window = make_window_unready(qtbot, tmp_path / "damaged.ini")
    with qtbot.waitSignal(window.fatalError, timeout=60_000) as fatal:
        window.load_torch()
    assert "cannot train" in fatal.args[0] and "t10k-images-idx3-ubyte.gz is damaged" in fatal.args[0]
    assert "damaged" in window.message.text() and not window.controls.buttons["startButton"].isEnabled()
    window.close()


def make_window_unready(qtbot, path):
    from l1_trainer.gui.window import MainWindow

    window = MainWindow(QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    return window


def test_every_control_has_a_tooltip(qtbot, tmp_path, mnist):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QScrollBar,
        QTabBar,
    )

    window = make_window(qtbot, tmp_path / "tips.ini", mnist)
    missing = []
    for kind in (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit):
        for widget in window.findChildren(kind):
            if (isinstance(widget, QScrollBar) or widget.objectName().startswith("qt_")
                    or isinstance(widget.parentWidget(), QTabBar)):
                continue  # Qt's own parts of scroll areas, tables, spin boxes and tab bars
            owner = widget  # a composite (the log slider with its box) may carry the tip
            while owner is not None and owner is not window and not owner.toolTip():
                owner = owner.parentWidget()
            if owner is None or owner is window:
                text = widget.text() if hasattr(widget, "text") else ""
                missing.append(widget.objectName() or f"{type(widget).__name__} {text}")
    window.close()
    assert not missing, missing


def test_closing_while_pytorch_loads_hides_at_once_and_finishes_later(qtbot, tmp_path, monkeypatch):
    import threading

    release = threading.Event()

    def slow_load(*args, **kwargs):  # stands for the seconds an import of PyTorch takes
        release.wait(30)
        from l1_trainer.core.files.data import DataError

        raise DataError("never mind")

    monkeypatch.setattr("l1_trainer.core.lazy.load_mnist", slow_load)
    window = make_window_unready(qtbot, tmp_path / "closing.ini")
    window.load_torch()
    closed = []
    window.closed.connect(lambda: closed.append(True))
    window.close()
    assert not window.isVisible() and not closed  # gone from the screen, not waiting
    jobs = window.runner.jobs
    with qtbot.waitSignal(window.closed, timeout=30_000):
        release.set()
    assert jobs and not any(job.isRunning() for job in jobs)


def test_relative_xdg_data_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "abs"))
    assert desktop.data_home() == tmp_path / "abs"


def test_a_folder_in_the_way_is_named_before_anything_is_written(tmp_path):
    home = tmp_path / "share"
    blocker = home / "icons" / "hicolor" / "64x64" / "apps" / "l1-trainer.png"
    blocker.mkdir(parents=True)
    with pytest.raises(OSError, match="64x64/apps/l1-trainer.png is a folder; remove it first"):
        desktop.install(home)
    assert [p for p in home.rglob("*") if p.is_file()] == [] and blocker.is_dir()


def failing_replace_at(call, monkeypatch):
    """os.replace failing on its `call`-th use, midway through putting the files in place."""
    import os as os_module

    calls, real_replace = [], os_module.replace

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == call:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr("os.replace", replace)


def test_a_failed_reinstall_puts_back_what_was_there(tmp_path, monkeypatch):
    home = tmp_path / "share"
    first = desktop.install(home)
    entry = home / "applications" / "l1-trainer.desktop"
    entry.write_text("the earlier entry")
    failing_replace_at(9, monkeypatch)
    with pytest.raises(OSError, match="could not install the menu entry.*nothing was changed"):
        desktop.install(home)
    monkeypatch.undo()
    assert all(p.exists() for p in first) and entry.read_text() == "the earlier entry"
    assert sorted(p.name for p in home.rglob(".*")) == []  # nothing set aside is left behind


def test_a_failed_first_install_leaves_nothing(tmp_path, monkeypatch):
    home = tmp_path / "share"
    failing_replace_at(5, monkeypatch)
    with pytest.raises(OSError, match="nothing was changed"):
        desktop.install(home)
    assert [p for p in home.rglob("*") if p.is_file()] == [] and not (home / "applications").exists()


@pytest.mark.parametrize("home", [None, ""])
def test_no_usable_home_folder_is_one_clear_error(monkeypatch, home):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    if home is None:
        monkeypatch.delenv("HOME", raising=False)
        monkeypatch.setattr("pathlib.Path.home", lambda: (_ for _ in ()).throw(RuntimeError("no home")))
    else:
        monkeypatch.setenv("HOME", home)
    with pytest.raises(OSError, match="set HOME or XDG_DATA_HOME"):
        desktop.data_home()


def test_uninstall_with_nothing_installed_says_so(tmp_path, capsys):
    from l1_trainer.main import main

    env_home = tmp_path / "empty"
    import os as os_module

    os_module.environ["XDG_DATA_HOME"] = str(env_home)
    try:
        assert main(["--uninstall-desktop-entry"]) == 0
    finally:
        os_module.environ["XDG_DATA_HOME"] = str(tmp_path)
    assert capsys.readouterr().out == "Nothing to remove: no menu entry was installed\n"
