"""Guards against a broken Qt binding, such as PySide6 6.12.0 on Python 3.11, which drops a
reference to None on every call of a method that returns nothing and soon aborts."""

import sys

from PySide6.QtWidgets import QLabel


def test_void_calls_keep_none_alive(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText(str(i))  # returns None
    after = sys.getrefcount(None)
    # None is immortal from Python 3.12 (the count is constant); before that it must not fall.
    assert after >= before - 100, f"refcount of None fell by {before - after}"
