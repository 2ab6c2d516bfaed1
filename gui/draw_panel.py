"""Draw a digit and see what the network thinks, live."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..core import lazy
from ..core.app.session import CurrentModel, Session
from ..core.training.sparsity import dead_units
from .inputs import plain_label
from .plots import probability_chart
from .units_view import UnitsView

if TYPE_CHECKING:  # PyTorch loads in the background, after the window is up
    import torch

    from ..core.training.model import MLP

PREDICT_MS = 60  # predictions at most about 16 times a second while drawing
CANVAS = 240  # with the panels beside it, the window still fits 1024 x 700


class DrawCanvas(QWidget):
    """Black ink on white, antialiased round strokes; right-click or Esc clears."""

    changed = Signal()
    strokeFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.setAccessibleName("Drawing canvas")
        self.setToolTip("Draw a digit with the mouse or a pen. Right-click or Esc clears.")
        self.setFixedSize(CANVAS, CANVAS)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.pen_width = 16
        self.image = QImage(CANVAS, CANVAS, QImage.Format.Format_Grayscale8)
        self._last: QPointF | None = None
        self.clear()

    def clear(self) -> None:
        self.image.fill(QColor("white"))
        self.blank = True
        self.update()
        self.changed.emit()

    def set_image(self, image: np.ndarray) -> None:
        """Start from a 28 x 28 image in [0, 1] (a test image), scaled up, to draw over."""
        paper = np.ascontiguousarray(255 - (np.clip(image, 0, 1) * 255).astype(np.uint8))
        small = QImage(paper.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        self.image = small.scaled(CANVAS, CANVAS, Qt.AspectRatioMode.IgnoreAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
        self.blank = not image.any()
        self.update()
        self.changed.emit()

    def ink(self) -> np.ndarray:
        """The drawing as ink intensity (0 = paper, 255 = full ink), shape (height, width)."""
        pixels = np.frombuffer(self.image.constBits(), np.uint8)
        rows = pixels.reshape(self.image.height(), self.image.bytesPerLine())[:, : self.image.width()]
        return 255 - rows

    def _draw_to(self, point: QPointF) -> None:
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("black"), self.pen_width, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawLine(self._last or point, point)
        painter.end()
        self._last = point
        self.blank = False
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.clear()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self._draw_to(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._draw_to(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self.strokeFinished.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self.image)
        painter.setPen(QPen(QColor("#999"), 1))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)


class DrawPanel(QWidget):
    """The canvas, the prediction, the ten probabilities and the 28x28 input the model sees.

    `set_model` takes a CPU model (from a snapshot or a file); predicting one image is a
    fraction of a millisecond, so it runs here, throttled, never on the live training tensors."""

    trainRequested = Signal()
    loadRequested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        session.events.model.connect(self._model_changed)
        session.settings.events["threshold"].connect(lambda threshold: self.predict())  # which units are dead
        self.units = UnitsView()
        self._state: dict[str, torch.Tensor] | None = None  # the latest weights, used when on screen
        self._stale = False
        self.model: MLP | None = None
        self.predicted: int | None = None
        self.probabilities: np.ndarray | None = None
        self.canvas = DrawCanvas()
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setAccessibleName("Clear drawing")
        self.clear_button.setToolTip("Clear the canvas (Esc, or right-click on it)")
        self.pen = QSlider(Qt.Orientation.Horizontal)
        self.pen.setObjectName("penWidthInput")
        self.pen.setAccessibleName("Pen width")
        self.pen.setRange(4, 40)
        self.pen.setValue(self.canvas.pen_width)
        self.pen.setToolTip("Stroke width in pixels; MNIST's digits have thick strokes")
        self.prediction = QLabel()  # rich text made from the model's numbers only
        self.prediction.setObjectName("predictionLabel")
        self.prediction.setAccessibleName("Prediction")
        self.prediction.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prediction.setWordWrap(True)
        self.preview = plain_label()
        self.preview.setObjectName("modelInputPreview")
        self.preview.setAccessibleName("What the network sees, 28 by 28")
        self.preview.setToolTip("Exactly what the network receives: cropped, scaled to 20x20, "
                                "centred by mass in 28x28, as MNIST was made")
        self.preview.setFixedSize(112, 112)
        self.preview.setStyleSheet("border: 1px solid #999; background: black;")
        self.chart, self.bars = probability_chart("probabilityChart", "Probability of each digit")
        self.chart.setMinimumHeight(180)
        self.no_model = QWidget()
        train, load = QPushButton("Train one"), QPushButton("Load a model…")
        train.setToolTip("Train a model with the settings on the left (F5)")
        load.setToolTip("Open a model saved earlier (Ctrl+O)")
        train.clicked.connect(self.trainRequested)
        load.clicked.connect(self.loadRequested)
        offer = QHBoxLayout(self.no_model)
        offer.addWidget(train)
        offer.addWidget(load)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREDICT_MS)
        self._timer.timeout.connect(self.predict)
        self.canvas.changed.connect(self._timer.start)
        self.canvas.strokeFinished.connect(self.predict)
        self.clear_button.clicked.connect(self.canvas.clear)
        self.pen.valueChanged.connect(self._set_pen)
        self._lay_out()
        self.predict()

    def _lay_out(self) -> None:
        left = QVBoxLayout()
        left.addWidget(self.canvas)
        tools = QFormLayout()
        tools.addRow(plain_label("Pen width"), self.pen)
        left.addLayout(tools)
        left.addWidget(self.clear_button)
        left.addSpacing(12)
        left.addWidget(plain_label("What the network sees (28 × 28):"))
        left.addWidget(self.preview)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.prediction)
        right.addWidget(self.no_model)
        right.addWidget(self.chart, 1)
        right.addWidget(self.units)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self.prediction.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    @Slot(int)
    def _set_pen(self, width: int) -> None:
        self.canvas.pen_width = width

    def _model_changed(self, current: CurrentModel | None) -> None:
        """New weights (four times a second during a run): used at once while the panel is on
        screen, else when it is shown; every build holds the GIL the training thread needs."""
        self._state = None if current is None else current.state
        self._stale = True
        if self.isVisible() or current is None:
            self._use_latest()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._use_latest()

    def _use_latest(self) -> None:
        if not self._stale:
            return
        self._stale = False
        state = self._state
        if state is None:
            self.set_model(None)
            return
        # A CPU model of its own, loaded from the snapshot's copy: never the live tensors. The
        # module is made once for an architecture and then only loaded, which costs far less.
        if self.model is None or set(self.model.state_dict()) != set(state) or any(
                self.model.state_dict()[k].shape != t.shape for k, t in state.items()):
            self.set_model(lazy.model_from_state(state))
        else:
            self.model.load_state_dict(state)
            self.predict()

    def set_model(self, model: MLP | None) -> None:
        self.model = model
        self.predict()

    @Slot()
    def predict(self) -> None:
        self._timer.stop()
        model = self.model
        self.no_model.setVisible(model is None)
        if model is None:  # also before torch has loaded: nothing here may need it
            self._show_text("No trained model yet: train one, or load a saved model.", 13)
            self.bars.setOpts(height=np.zeros(10))
            self.preview.clear()
            self.units.show_units([])
            return
        field = None if self.canvas.blank else lazy.preprocess_drawing(self.canvas.ink())
        self._show_preview(field)
        self._show_units(model, field)
        if field is None:
            self._show_text("Draw a digit on the canvas", 14)
            self.bars.setOpts(height=np.zeros(10))
            return
        probs = lazy.probabilities(model, field[None])[0].numpy()
        digit = int(probs.argmax())
        self.probabilities = probs
        self.prediction.setText(
            f"<span style='font-size:64pt; font-weight:bold'>{digit}</span>"
            f"<br><span style='font-size:14pt'>{probs[digit]:.1%} sure</span>"
        )
        self.prediction.setAccessibleDescription(f"Predicted {digit}, {probs[digit]:.0%}")
        self.predicted, self.probabilities = digit, probs
        self.bars.setOpts(height=probs, brushes=["#d62728" if i == digit else "#1f77b4" for i in range(10)])

    def _show_units(self, model: MLP, field: torch.Tensor | None) -> None:
        """Each hidden layer's activations for the drawing (none yet: all silent), dead greyed."""
        image = lazy.torch.zeros(28, 28) if field is None else field
        matrices = list(model.weight_names())
        state = model.state_dict()
        layers = [(values.numpy(), set(dead_units(state[name], self.session.threshold)))
                  for values, name in zip(lazy.activations(model, image), matrices)]
        self.units.show_units(layers)

    def _show_text(self, text: str, size: int) -> None:
        self.predicted, self.probabilities = None, None
        self.prediction.setText(f"<span style='font-size:{size}pt; color:#555'>{text}</span>")

    def _show_preview(self, field: torch.Tensor | None) -> None:
        if field is None:
            self.preview.clear()
            return
        self.preview.setPixmap(grey_pixmap(field.numpy(), self.preview.width()))


def grey_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """A 2-D array in [0, 1] as a white-on-black pixmap, scaled without smoothing."""
    pixels = np.ascontiguousarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    h, w = pixels.shape
    qimage = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)
