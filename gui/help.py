"""The Help menu's texts: what L1 does, the shortcuts, and About (with MNIST's attribution)."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ..core.files.version import app_version
from .inputs import MessageBar

WHAT_IS_L1 = """
<h3>What is L1 regularization?</h3>
<p>The network learns by lowering its loss. L1 adds the sum of the weights' magnitudes:</p>
<p style="margin-left:16px"><b>loss = cross-entropy + λ · Σ |w|</b></p>
<p>Every weight now pays a price for being non-zero, so training keeps only the weights the data
really needs and pushes the rest towards zero: the network becomes <i>sparse</i>.</p>
<p><b>Near zero, or exactly zero?</b> That depends on the <i>L1 method</i>. <b>Penalty</b> (as
in the notebook) adds the penalty's gradient, λ · sign(w): each step pushes a weight by the same
small amount towards zero, and a weight at zero is pushed past it, so the unneeded weights
<i>jitter</i> around zero, tiny but not exactly 0. <b>Proximal</b> shrinks each weight by
lr · λ after the step and stops at zero: the unneeded weights land on <i>exactly</i> 0 and stay.
Both give the same kind of network; only proximal shows the zeros. The readout on the right
counts both: weights near zero (|w| at or below the threshold) and exactly zero.</p>
<p><b>What to watch</b></p>
<ul>
<li><b>Sparsity</b> (right): the share of weights at or near zero grows as training goes on.</li>
<li><b>Weights</b> tab: the first layer's units turn into a few strokes; border pixels go first.</li>
<li><b>Too large a λ</b>: every weight is pulled to zero, test accuracy falls to 10% and the
cross-entropy sits at ln 10 = 2.303: the network can only guess. The <i>Seed notebook</i>
preset (λ = 1) shows exactly this.</li>
<li><b>Pruning</b> tab: an L1-trained net keeps its accuracy when most weights are removed.</li>
</ul>
<p><b>L1 against L2</b></p>
<p>L2 adds <b>μ · Σ w²</b> instead. Its pull on a weight is 2μw: strong on big weights, and
fading to nothing as a weight nears zero, so L2 makes weights <i>small</i> but almost never
<i>zero</i>. L1's pull is the same λ whatever the size, so it keeps pulling a small weight all
the way to zero: that is why only L1 makes a network sparse. The <i>L1 vs L2</i> preset shows
it in a few seconds: it trains no penalty, L2 alone and L1 alone (proximal) side by side on the
same batches, and only L1 has weights at exactly zero. With both, the <i>elastic net</i>:
L1 picks the weights, L2 keeps the survivors small. Run a sweep over L1 and L2 weights (Sweep
tab) and compare the sparsity.</p>
<p><b>Weight decay is not the L2 penalty.</b> AdamW's <i>weight decay</i> (0.01 in the
notebook) shrinks every weight by lr × decay at each step, outside the loss. The L2 penalty is
part of the loss, so its gradient goes through Adam, which divides each gradient by its running
size: for Adam, L2 and weight decay behave differently (with plain SGD they are the same).</p>
<p><b>Augment.</b> MNIST's digits were written by a few hundred people in one style. With
<i>Augment</i> on, every training digit is shown slightly rotated, slanted, shifted and with a
thicker or thinner stroke each time it comes round, so the network also reads digits written
otherwise (try the Draw tab). It is off in the notebook's preset.</p>
"""

SHORTCUTS = [
    ("F5", "Start a run"),
    ("F6", "Pause or resume"),
    ("Shift+F5", "Stop"),
    ("F7 / Shift+F7", "Step: train one mini-batch (or 50), then pause"),
    ("F11", "Presentation mode: full screen, larger text, thicker lines"),
    ("Ctrl+R", "Reset: forget the model and curves"),
    ("Ctrl+O / Ctrl+S", "Open / save a model"),
    ("Esc, right-click", "Clear the drawing canvas"),
    ("Ctrl+Q", "Quit"),
]

MNIST_ATTRIBUTION = (
    "The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
    "Christopher J. C. Burges, a derivative work of the NIST datasets, made available under the "
    "Creative Commons Attribution-Share Alike 3.0 license. L1 Trainer ships it unchanged."
)


def about_text() -> str:
    return (
        f"<h3>L1 Trainer {app_version()}</h3>"
        "<p>Train a small neural network on handwritten digits and watch L1 regularization "
        "make it sparse.</p><p>License: MIT.</p>"
        f"<p><b>Data.</b> {MNIST_ATTRIBUTION}</p>"
        "<p>Built with PyTorch, PySide6 (Qt) and pyqtgraph.</p>"
    )


def shortcuts_text() -> str:
    rows = "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in SHORTCUTS)
    return f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"


class HelpDialog(QDialog):
    """A help text that scrolls, never taller than the screen it opens on (a 700-pixel one too),
    not modal (tests and screen readers find it by objectName)."""

    def __init__(self, parent: QWidget, title: str, html: str) -> None:
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setHtml(html)  # the app's own text, never a file's
        self.browser.setOpenExternalLinks(False)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(close)
        screen = parent.screen().availableGeometry()
        self.resize(min(560, screen.width() - 40), min(520, screen.height() - 80))

    def text(self) -> str:
        return self.browser.toPlainText()


def show(parent: QWidget, title: str, html: str) -> HelpDialog:
    dialog = HelpDialog(parent, title, html)
    dialog.setModal(False)
    dialog.show()
    return dialog


class FirstRunGuide(MessageBar):
    """A first start (no saved settings) gets a short guide, until it is dismissed."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent, name="firstRunGuide", rich=True)
        self.settings = settings
        if settings.value("guide/dismissed", "false") == "true":
            return
        self.show_message(
            "<b>Welcome.</b> 1. Pick a preset on the left (Balanced is a good start). "
            "2. Press <b>Start</b> (F5) and watch the curves. 3. Watch the <b>sparsity</b> on the "
            "right grow: that is L1 at work. 4. Open <b>Draw</b> and draw a digit. "
            "Help → What is L1 regularization? explains more.", "info")
        self.dismissed.connect(self._dismissed)

    @Slot()
    def _dismissed(self) -> None:
        self.settings.setValue("guide/dismissed", "true")
        self.settings.sync()
