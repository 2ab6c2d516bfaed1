"""A view redraws once per tick however many changes came, and only while it can be seen."""

from PySide6.QtWidgets import QTabWidget, QWidget

from l1_trainer.gui.redraw import Redraw


def test_many_changes_one_draw_and_none_while_hidden(qtbot):
    tabs, seen, hidden = QTabWidget(), QWidget(), QWidget()
    qtbot.addWidget(tabs)
    tabs.addTab(seen, "seen")
    tabs.addTab(hidden, "hidden")
    tabs.show()
    draws = {"seen": 0, "hidden": 0}
    redraws = {name: Redraw(view, lambda name=name: draws.__setitem__(name, draws[name] + 1), 60_000)
               for name, view in (("seen", seen), ("hidden", hidden))}
    for _ in range(5):
        for redraw in redraws.values():
            redraw.mark()
    for redraw in redraws.values():
        redraw.flush()  # what a tick does
    assert draws == {"seen": 1, "hidden": 0}
    redraws["seen"].flush()  # nothing new: nothing drawn
    tabs.setCurrentWidget(hidden)
    redraws["hidden"].flush()  # what the view's showEvent does
    assert draws == {"seen": 1, "hidden": 1}
    redraws["seen"].mark()
    redraws["seen"].now()  # before an export: drawn, seen or not
    assert draws == {"seen": 2, "hidden": 1}
