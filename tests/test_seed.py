"""The CLI's seed preset against the notebook's own loop, run here, and its printed table.

The printed table came from another machine and PyTorch build. In this collapsed regime (the
L1 term drives every weight to about zero) float rounding is amplified: for epoch 5's L1 part
the same loop has given 0.63419 on one 2-core machine with two threads and 0.63680 with one,
0.63592 on another, and 0.63634 on an H100, against the table's 0.63803. So the exact reference
is the notebook's loop run in this process, with the same thread count (0.1%); the table is
checked to 1%.
"""

import re

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from l1_trainer.cli import commands as cli
from l1_trainer.core.training.dataset import unit_float

from seed_notebook import notebook_loop, shuffled_batches

# The notebook's printed table (seed/l1_regularization_mlp_notebook.txt): total, L1 part.
NOTEBOOK_TABLE = [
    (65.43456, 63.13525),
    (4.08177, 1.77761),
    (2.94135, 0.63876),
    (2.94091, 0.63833),
    (2.94062, 0.63803),
]
LINE = re.compile(r"^Loss after mini-batch +500: ([\d.]+) \(of which ([\d.]+) L1 loss\)$", re.M)


def _losses(text):
    return [(float(total), float(l1)) for total, l1 in LINE.findall(text)]


@pytest.fixture()
def threads_put_back():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# The notebook formats a tensor that requires grad, which PyTorch now warns about.
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")
def test_seed_preset_reproduces_the_notebooks_own_loop_and_table(capsys, mnist, threads_put_back):
    assert cli.main(["train", "--preset", "seed", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    printed = _losses(out)  # the reference below runs at the thread count the CLI set and used

    # The notebook's cell 6 on the same images (the values ToTensor gives, tests/test_data.py),
    # in its DataLoader's order (the next test).
    images = unit_float(mnist.train_images).reshape(-1, 1, 28, 28)
    reference = _losses("\n".join(notebook_loop(lambda: shuffled_batches(images, mnist.train_y))))

    threads = torch.get_num_threads()
    assert len(printed) == len(reference) == len(NOTEBOOK_TABLE) == 5
    for epoch, (ours, same_run, table) in enumerate(zip(printed, reference, NOTEBOOK_TABLE), 1):
        for part, a, b, c in zip(("total", "L1"), ours, same_run, table):
            assert a == pytest.approx(b, rel=1e-3), f"epoch {epoch} {part}: {threads} thread(s)"
            assert a == pytest.approx(c, rel=1e-2), f"epoch {epoch} {part} against the table"
    assert [f"Starting epoch {k}" in out for k in range(1, 6)] == [True] * 5
    summaries = re.findall(r"^Epoch \d/5: test accuracy ([\d.]+)%", out, re.M)
    assert len(summaries) == 5
    # Weight 1.0 collapses the net to chance: about one digit in ten.
    assert 5.0 < float(summaries[-1]) < 15.0


def test_the_reference_gets_the_notebooks_dataloader_batches(mnist):
    x, y = unit_float(mnist.train_images[:1000]).reshape(-1, 1, 28, 28), mnist.train_y[:1000]
    torch.manual_seed(42)
    theirs = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    expected = [batch for _ in range(2) for batch in theirs]
    after_theirs = torch.rand(1)  # the global generator left where they leave it
    torch.manual_seed(42)
    ours = shuffled_batches(x, y)
    got = [batch for _ in range(2) for batch in ours]
    assert len(got) == len(expected) == 32 and torch.equal(torch.rand(1), after_theirs)
    for (a, b), (c, d) in zip(got, expected):
        assert torch.equal(a, c) and torch.equal(b, d)
