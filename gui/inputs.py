"""Input widgets for values that span decades, and the in-window message bar."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFocusEvent, QKeyEvent, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
STEPS_PER_DECADE = 4


class _SaysWhy:
    """For spin boxes whose typed text is never silently changed: when editing ends on text the
    box cannot take, `rejected` says why, and the box puts the previous value back.

    Checked before the spin box handles Enter or the focus leaving, since by the time it emits
    editingFinished the text has already been replaced."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._check_text()
        super().keyPressEvent(event)  # type: ignore[misc]

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._check_text()
        super().focusOutEvent(event)  # type: ignore[misc]

    def _check_text(self) -> None:
        text = self.lineEdit().text().strip()  # type: ignore[attr-defined]
        if self.validate(text, 0)[0] == QValidator.State.Acceptable:  # type: ignore[attr-defined]
            return
        typed = f"'{text}' is not" if text else "an empty field is not"
        kept = self.textFromValue(self.value())  # type: ignore[attr-defined]
        self.rejected.emit(  # type: ignore[attr-defined]
            f"{self.accessibleName()}: {typed} {self.expected()}; kept {kept}.")  # type: ignore[attr-defined]


class IntSpinBox(_SaysWhy, QSpinBox):
    """A whole-number field that shows what is typed and refuses, saying why, what it cannot take.

    QSpinBox drops every keystroke its validator rejects, so "1e9" became 19, "-1" became 1
    and "99999999999" became 9,999 without a word."""

    rejected = Signal(str)

    def __init__(self, low: int, high: int, step: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(low, high)
        self.setSingleStep(step)
        self.setGroupSeparatorShown(True)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)

    def expected(self) -> str:
        return f"a whole number from {self.minimum():,} to {self.maximum():,}"

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        value = self._parse(text)
        ok = value is not None and self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def valueFromText(self, text: str) -> int:
        value = self._parse(text)
        return self.value() if value is None else value

    def _parse(self, text: str) -> int | None:
        plain = text.replace(self.locale().groupSeparator(), "").replace(",", "").strip()
        return int(plain) if _WHOLE_NUMBER.match(plain) else None


class SciSpinBox(_SaysWhy, QDoubleSpinBox):
    """A spin box showing `1e-04`-style values; arrows step by a factor; 0 only if allowed.

    Out-of-range or malformed text is never accepted: it stays "intermediate" while typed
    and reverts to the previous value when editing ends, and `rejected` says why."""

    rejected = Signal(str)

    def __init__(self, low: float, high: float, allow_zero: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.allow_zero = low, high, allow_zero
        self.setDecimals(12)  # QDoubleSpinBox rounds every value to this many decimals
        self.setRange(0.0 if allow_zero else low, high)
        self.setKeyboardTracking(False)  # valueChanged on Enter or focus-out, not per keystroke
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)

    def allowed(self, value: float) -> bool:
        return (self.allow_zero and value == 0) or self.low <= value <= self.high

    def expected(self) -> str:
        return f"{'0 or ' if self.allow_zero else ''}a number from {self.low:g} to {self.high:g}"

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        # Never Invalid: QDoubleSpinBox drops such keystrokes without a word ("abc", "nan" left
        # nothing). Text it cannot take stays as typed, and _SaysWhy says why when editing ends.
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = math.isfinite(value) and self.allowed(value)
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if value == 0:
            new = self.low if steps > 0 else 0.0
        else:
            new = value * 10 ** (steps / STEPS_PER_DECADE)
            if new < self.low:
                new = 0.0 if self.allow_zero else self.low
        self.setValue(min(new, self.high))


class LogInput(QWidget):
    """A logarithmic slider beside a SciSpinBox, kept in step; the left end is 0 if allowed."""

    valueChanged = Signal(float)
    TICKS = 1000

    def __init__(self, low: float, high: float, allow_zero: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin_box = SciSpinBox(low, high, allow_zero)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.TICKS)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin_box)
        self.spin_box.setFixedWidth(72)  # "0.0001" and the arrows; the slider takes what is left
        self.spin_box.valueChanged.connect(self._spin_changed)
        self.slider.valueChanged.connect(self._slider_moved)
        self._sync_slider(self.spin_box.value())

    def value(self) -> float:
        return self.spin_box.value()

    def setValue(self, value: float) -> None:
        self.spin_box.setValue(value)

    def set_accessible(self, name: str, tip: str) -> None:
        for widget, suffix in ((self, ""), (self.spin_box, ""), (self.slider, " slider")):
            widget.setAccessibleName(name + suffix)
            widget.setToolTip(tip)

    @Slot(float)
    def _spin_changed(self, value: float) -> None:
        self._sync_slider(value)
        self.valueChanged.emit(value)

    @Slot(int)
    def _slider_moved(self, position: int) -> None:
        # Only the user moves it: programmatic syncs block its signals.
        self.spin_box.setValue(self._value_at(position))

    def _sync_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._position_of(value))
        self.slider.blockSignals(False)

    def _span(self) -> tuple[int, float, float]:
        first = 1 if self.spin_box.allow_zero else 0  # position 0 means exactly 0
        return first, math.log10(self.spin_box.low), math.log10(self.spin_box.high)

    def _value_at(self, position: int) -> float:
        first, lo, hi = self._span()
        if position < first:
            return 0.0
        fraction = (position - first) / (self.TICKS - first)
        return float(f"{10 ** (lo + fraction * (hi - lo)):.3g}")

    def _position_of(self, value: float) -> int:
        first, lo, hi = self._span()
        if value <= 0:
            return 0
        fraction = (math.log10(value) - lo) / (hi - lo)
        return first + round(min(max(fraction, 0.0), 1.0) * (self.TICKS - first))


class MessageBar(QWidget):
    """A dismissible line at the top of the window for errors and notices."""

    dismissed = Signal()  # the user closed it

    STYLES = {
        "error": "background:#fde2e1; color:#7a1712; border:1px solid #e8a19c;",
        "info": "background:#e4f0fb; color:#10385e; border:1px solid #9fc3e6;",
    }

    def __init__(self, parent: QWidget | None = None, name: str = "messageBar", rich: bool = False) -> None:
        """`rich`: the bar shows the app's own markup (the guide); messages, which carry text
        from files, the history and paths, are shown as plain text."""
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName("Message")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAccessibleName("Dismiss message")
        close.setToolTip("Dismiss this message")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        close.clicked.connect(self.dismissed)
        self.close_button = close
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.kind = "info"
        self._rejection = False
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.setStyleSheet(f"MessageBar {{{self.STYLES[kind]} border-radius:4px;}}")
        self.label.setText(breakable(text))
        self.kind = kind
        self._rejection = False
        self.show()

    def show_rejection(self, text: str) -> None:
        """Typed text a field did not take: said until the next value a field takes."""
        self.show_message(text)
        self._rejection = True

    def value_taken(self) -> None:
        if self._rejection:
            self.hide()
            self._rejection = False

    def text(self) -> str:
        return self.label.text().replace(ZERO_WIDTH_SPACE, "") if self.isVisible() else ""


ZERO_WIDTH_SPACE = "\u200b"
_UNBROKEN = re.compile(r"\S{40}")


def breakable(text: str) -> str:
    """`text` with a place to break in every 40 characters without a space: a long path or a
    file's schedule must wrap, not make the window wider than any screen."""
    return _UNBROKEN.sub(lambda m: m[0] + ZERO_WIDTH_SPACE, text)


class Expander(QToolButton):
    """A checkable arrow button with a title that shows (pointing down) or hides what it
    is connected to (its `toggled` signal)."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setText(text)
        self.setCheckable(True)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setArrowType(Qt.ArrowType.RightArrow)
        self.toggled.connect(lambda on: self.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow))


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as it is, never as markup: text from a file, the history or
    a path may hold any (QLabel's default, AutoText, renders what looks like HTML)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def named_button(name: str, text: str, tip: str, slot: Callable[[], object] | None = None) -> QPushButton:
    """A push button named for tests and screen readers, with its tooltip and its click slot."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAccessibleName(text)
    button.setToolTip(tip)
    if slot is not None:
        button.clicked.connect(slot)
    return button
