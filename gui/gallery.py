"""Why the network errs: the test images with the current model's ten probabilities, its
confusion matrix (click a cell to see those images), and "Draw over this" to the draw panel."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.app.session import CurrentModel, Session
from .draw_panel import grey_pixmap
from .inputs import named_button, plain_label
from .plots import probability_chart

if TYPE_CHECKING:
    import torch

    from ..core.training.inference import Evaluation

MAX_LISTED = 500  # the list shows this many images at most (a weak model makes thousands)


class Gallery(QWidget):
    """The current model's test-set evaluation; `images` are MNIST's test images (set once)."""

    drawOverRequested = Signal(object)  # a (28, 28) image in [0, 1]

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        session.events.evaluation.connect(self._evaluated)
        session.events.model.connect(self._model_changed)
        self.images: torch.Tensor | None = None  # test images, (N, 784) on the CPU
        self.evaluation: Evaluation | None = None  # of the current model
        self.shown: int | None = None
        self.cell: tuple[int, int] | None = None  # (true, predicted) listed; None: the mistakes
        self.image = plain_label()
        self.image.setObjectName("galleryImage")
        self.image.setAccessibleName("Test image")
        self.image.setFixedSize(168, 168)
        self.image.setStyleSheet("background: black;")
        self.caption = plain_label("No evaluation yet: train or load a model.")
        self.caption.setObjectName("galleryCaption")
        self.caption.setWordWrap(True)
        self.chart, self.bars = probability_chart(
            "galleryProbabilities", "The model's probability of each digit for this image")
        self.chart.setFixedHeight(130)
        self.random_button = named_button("randomSampleButton", "Random test image",
                                          "Show a random test image with its true label and the prediction",
                                          self.show_random)
        self.draw_button = named_button("drawOverButton", "Draw over this",
                                        "Put this image on the drawing canvas, to change it by hand "
                                        "and watch the prediction", self._draw_over)
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.matrix = QTableWidget(10, 10)
        self.matrix.setObjectName("confusionMatrix")
        self.matrix.setAccessibleName("Confusion matrix")
        self.matrix.setToolTip("Rows: the true digit; columns: the predicted one. Click a cell to "
                               "list those images.")
        self.matrix.setVerticalHeaderLabels([f"true {d}" for d in range(10)])
        self.matrix.setHorizontalHeaderLabels([str(d) for d in range(10)])
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for header in (self.matrix.horizontalHeader(), self.matrix.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(24)  # ten columns must fit beside the image at 1024 px
        self.matrix.setMinimumHeight(250)
        self.listing = plain_label("")
        self.listing.setObjectName("galleryListing")
        self.errors = QListWidget()
        self.errors.setObjectName("misclassifiedList")
        self.errors.setAccessibleName("Test images of the chosen cell")
        self.errors.setToolTip("Click one to see it large, with its ten probabilities")
        self.errors.setViewMode(QListWidget.ViewMode.IconMode)
        self.errors.setIconSize(QSize(48, 48))
        self.errors.setGridSize(QSize(64, 84))
        self.errors.setWordWrap(True)  # "pred 6" over "true 5": never cut to "pred 6, tru…"
        self.errors.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.errors.setMovement(QListWidget.Movement.Static)
        self.errors.currentItemChanged.connect(self._image_chosen)
        self.matrix.cellClicked.connect(self._cell_chosen)
        self._lay_out()
        self._enable()

    def _lay_out(self) -> None:
        left = QVBoxLayout()
        left.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        left.addWidget(self.caption)
        left.addWidget(self.chart)
        left.addWidget(self.random_button)
        left.addWidget(self.draw_button)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.summary)
        right.addWidget(self.matrix, 3)
        right.addWidget(self.listing)
        right.addWidget(self.errors, 2)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addLayout(right, 5)

    def _enable(self) -> None:
        self.random_button.setEnabled(self.evaluation is not None)
        self.draw_button.setEnabled(self.shown is not None and self.images is not None)

    # ---- from the session --------------------------------------------------------------------

    def _evaluated(self, model: CurrentModel) -> None:
        self.set_evaluation(model.evaluation)

    def _model_changed(self, model: CurrentModel | None) -> None:
        if model is None:
            self.clear()

    def set_evaluation(self, evaluation) -> None:
        """Show a new evaluation: the confusion matrix, the listed images, the current image."""
        self.evaluation = evaluation
        wrong = len(evaluation.misclassified())
        self.summary.setText(f"{wrong:,} of {len(evaluation.labels):,} test images misclassified "
                             f"(accuracy {evaluation.accuracy:.2%}). Click a cell to list its images.")
        counts = evaluation.confusion().numpy()
        worst = max(1, int((counts - np.diag(np.diag(counts))).max()))
        for true in range(10):
            for predicted in range(10):
                n = int(counts[true, predicted])
                item = QTableWidgetItem(str(n))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if true == predicted:
                    item.setBackground(QColor(225, 240, 225))
                elif n:
                    # The more images a wrong cell holds, the redder it is.
                    strength = 60 + int(160 * n / worst)
                    item.setBackground(QColor(255, 255 - strength, 255 - strength))
                self.matrix.setItem(true, predicted, item)
        self._list(self.cell)
        if self.shown is not None:
            self.show_index(self.shown)
        else:  # not "no evaluation yet" beside a full matrix
            self.caption.setText("Click an image in the list, or Random test image.")
        self._enable()

    def clear(self) -> None:
        self.evaluation = self.shown = self.cell = None
        self.errors.clear()
        self.matrix.clearContents()
        self.image.clear()
        self.bars.setOpts(height=np.zeros(10))
        self.summary.setText("")
        self.listing.setText("")
        self.caption.setText("No evaluation yet: train or load a model.")
        self._enable()

    # ---- the user ----------------------------------------------------------------------------

    @Slot(int, int)
    def _cell_chosen(self, true: int, predicted: int) -> None:
        if self.evaluation is not None:
            self._list((true, predicted))

    def _list(self, cell: tuple[int, int] | None) -> None:
        """The images of a cell of the matrix, or all the mistakes."""
        self.cell = cell
        indices = (self._listed.misclassified() if cell is None else self._listed.where(*cell)).tolist()
        what = "misclassified images" if cell is None else f"digit {cell[0]} predicted as {cell[1]}"
        self.listing.setText(f"{what}: {len(indices):,}" + (f" (the first {MAX_LISTED} listed)"
                                                            if len(indices) > MAX_LISTED else ""))
        self.errors.clear()
        for index in indices[:MAX_LISTED]:
            item = QListWidgetItem(self._icon(index), self._label(index))
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(f"test image {index}")
            self.errors.addItem(item)

    @Slot()
    def show_random(self) -> None:
        self.show_index(random.randrange(len(self._listed.labels)))

    def show_index(self, index: int) -> None:
        self.shown = index
        self.image.setPixmap(grey_pixmap(self._image(index), self.image.width()))
        truth = int(self._listed.labels[index])
        guess = int(self._listed.predictions[index])
        verdict = "right" if truth == guess else "wrong"
        self.caption.setText(f"Test image {index}: true label {truth}, predicted {guess} ({verdict})")
        probs = self._listed.probabilities[index].numpy()
        self.bars.setOpts(height=probs, brushes=[
            "#2ca02c" if i == truth else "#d62728" if i == guess else "#1f77b4" for i in range(10)])
        self._enable()

    @Slot(QListWidgetItem, QListWidgetItem)
    def _image_chosen(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.show_index(current.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _draw_over(self) -> None:
        if self.shown is not None:
            self.drawOverRequested.emit(self._image(self.shown))

    @property
    def _listed(self) -> Evaluation:
        """The evaluation the listing and the shown image come from (there are none without)."""
        assert self.evaluation is not None
        return self.evaluation

    def _image(self, index: int) -> np.ndarray:
        assert self.images is not None  # loaded before any model could be evaluated
        return self.images[index].reshape(28, 28).numpy()

    def _icon(self, index: int) -> QIcon:
        return QIcon(grey_pixmap(self._image(index), 48))

    def _label(self, index: int) -> str:
        return (f"pred {int(self._listed.predictions[index])}\n"
                f"true {int(self._listed.labels[index])}")
