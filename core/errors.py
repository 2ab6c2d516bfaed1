"""What went wrong, as the user reads it.

Errors the app raises for something a user can act on (a damaged file, a missing device, the
history's folder) derive from ExplainedError: their message is written to be shown as it is.
Anything else is a bug or the system's own error and is shown with its type.
"""

from __future__ import annotations

import sys


class ExplainedError(RuntimeError):
    """An error whose message says, in the user's words, what is wrong and what to do."""


def describe(exc: BaseException) -> str:
    """One line for any exception a background job can raise."""
    torch = sys.modules.get("torch")  # a job that ran out of memory has imported it
    if torch is not None and isinstance(exc, torch.OutOfMemoryError):
        return "out of memory on the training device: try a smaller batch size or the CPU"
    if isinstance(exc, (ExplainedError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def missing_for_onnx(exc: ImportError) -> str:
    """What to do when ONNX export's optional packages are not there: in a pip install, the
    extra; the standalone app is built without them."""
    what = exc.name or "onnx"
    if getattr(sys, "frozen", False):
        return (f"ONNX export needs {what}, which this standalone copy of L1 Trainer leaves out: "
                "export from a pip install of L1 Trainer with its extra, pip install 'l1-trainer[export]'")
    return f"ONNX export needs {what}, which is not installed: pip install 'l1-trainer[export]'"
