"""Test images with their true labels and the model's predictions; the ones it gets wrong."""

from __future__ import annotations

import random

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from l1_trainer.core.session import CurrentModel, Session
from l1_trainer.gui.draw_panel import grey_pixmap

MAX_LISTED = 500  # the list shows this many mistakes at most (a weak model makes thousands)


class Gallery(QWidget):
    """The current model's test-set evaluation; `images` are MNIST's test images (set once)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        session.events.evaluation.connect(self._evaluated)
        session.events.model.connect(self._model_changed)
        self.images = None  # test images, (N, 784) on the CPU
        self.evaluation = None  # core.inference.Evaluation of the current model
        self.shown: int | None = None
        self.image = QLabel()
        self.image.setObjectName("galleryImage")
        self.image.setAccessibleName("Test image")
        self.image.setFixedSize(196, 196)
        self.image.setStyleSheet("background: black;")
        self.caption = QLabel("No evaluation yet: train or load a model.")
        self.caption.setObjectName("galleryCaption")
        self.caption.setWordWrap(True)
        self.random_button = QPushButton("Random test image")
        self.random_button.setObjectName("randomSampleButton")
        self.random_button.setAccessibleName("Show a random test image")
        self.random_button.setEnabled(False)
        self.random_button.setToolTip("Show a random test image with its true label and the prediction")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.errors = QListWidget()
        self.errors.setObjectName("misclassifiedList")
        self.errors.setAccessibleName("Misclassified test images")
        self.errors.setToolTip("The test images the model gets wrong: click one to see it large")
        self.errors.setViewMode(QListWidget.ViewMode.IconMode)
        self.errors.setIconSize(QSize(56, 56))
        self.errors.setGridSize(QSize(96, 96))
        self.errors.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.errors.setMovement(QListWidget.Movement.Static)
        self.random_button.clicked.connect(self.show_random)
        self.errors.currentItemChanged.connect(self._error_chosen)
        left = QVBoxLayout()
        left.addWidget(self.image)
        left.addWidget(self.caption)
        left.addWidget(self.random_button)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.summary)
        right.addWidget(self.errors, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)

    def _evaluated(self, model: CurrentModel) -> None:
        self.set_evaluation(model.evaluation)

    def _model_changed(self, model: CurrentModel | None) -> None:
        if model is None:
            self.clear()

    def set_evaluation(self, evaluation) -> None:
        """Show a new evaluation: its mistakes listed, the current image re-captioned."""
        self.evaluation = evaluation
        wrong = evaluation.misclassified().tolist()
        total = len(evaluation.labels)
        self.summary.setText(
            f"{len(wrong):,} of {total:,} test images misclassified "
            f"(accuracy {evaluation.accuracy:.2%})"
            + (f"; the first {MAX_LISTED} are listed" if len(wrong) > MAX_LISTED else "")
            + ". Click one to see it."
        )
        self.errors.clear()
        for index in wrong[:MAX_LISTED]:
            item = QListWidgetItem(self._icon(index), self._label(index))
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(f"test image {index}")
            self.errors.addItem(item)
        self.random_button.setEnabled(True)
        if self.shown is not None:
            self.show_index(self.shown)

    def clear(self) -> None:
        self.evaluation = self.shown = None
        self.errors.clear()
        self.image.clear()
        self.summary.setText("")
        self.caption.setText("No evaluation yet: train or load a model.")
        self.random_button.setEnabled(False)

    @Slot()
    def show_random(self) -> None:
        self.show_index(random.randrange(len(self.evaluation.labels)))

    def show_index(self, index: int) -> None:
        self.shown = index
        self.image.setPixmap(grey_pixmap(self._image(index), self.image.width()))
        truth = int(self.evaluation.labels[index])
        guess = int(self.evaluation.predictions[index])
        verdict = "right" if truth == guess else "wrong"
        self.caption.setText(f"Test image {index}: true label {truth}, predicted {guess} ({verdict})")

    @Slot(QListWidgetItem, QListWidgetItem)
    def _error_chosen(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.show_index(current.data(Qt.ItemDataRole.UserRole))

    def _image(self, index: int):
        return self.images[index].reshape(28, 28).numpy()

    def _icon(self, index: int) -> QIcon:
        return QIcon(grey_pixmap(self._image(index), 56))

    def _label(self, index: int) -> str:
        return (f"pred {int(self.evaluation.predictions[index])}, "
                f"true {int(self.evaluation.labels[index])}")
