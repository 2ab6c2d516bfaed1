"""Mutation check: each listed change to the numerical code must make some test fail.

    python tests/mutation_check.py [--only NAME ...] [--list]

Not part of the suite (it runs the numerical tests once per mutant: about five minutes here).
Each mutant is applied to a copy of the repository in a temporary folder, never to this
checkout, and the tests it names run there against that copy. A mutant that no test kills is a
gap in the tests: the script lists the survivors and exits 1. A mutant whose original text is
no longer in the code is reported as stale (exit 2), so the list follows the code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NUMERIC_TESTS = ("test_steps.py", "test_engine.py", "test_stack.py", "test_sparsity.py", "test_pruning.py",
                 "test_preprocess.py", "test_session.py", "test_sweep.py")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    original: str
    mutated: str
    tests: tuple[str, ...] = NUMERIC_TESTS


MUTANTS = [
    # The written-out step (fast_step.py)
    Mutant("cross-entropy gradient scaled by 1/(n+1)", "core/training/fast_step.py",
           "self.inv_n = torch.ones(k * n, **empty).div_(n)", "self.inv_n = torch.ones(k * n, **empty).div_(n + 1)"),
    Mutant("cross-entropy summed, not averaged", "core/training/fast_step.py",
           "torch.mv(self.picked_by_model, self.inv_n_one, out=self.ce)",
           "torch.sum(self.picked_by_model, 1, out=self.ce)"),
    Mutant("no ReLU after the second layer", "core/training/fast_step.py",
           "if j < len(w) - 1:", "if j < len(w) - 2:"),
    Mutant("ReLU's backward passes negatives", "core/training/fast_step.py",
           "partial(_relu_backward, below, a, 0.0,", "partial(_relu_backward, below, a, -1e9,"),
    Mutant("L1 gradient added only with the proximal method", "core/training/fast_step.py",
           "add_gradients(l1=not self.proximal)", "add_gradients(l1=self.proximal)"),
    Mutant("proximal step twice as long", "core/training/fast_step.py",
           "self.penalties.shrink(self.lr)", "self.penalties.shrink(self.lr * 2)"),
    Mutant("evaluation logits without ReLU", "core/training/fast_step.py",
           "self.biases[j].unsqueeze(1), h.relu(),", "self.biases[j].unsqueeze(1), h,"),
    Mutant("a notebook-exact run takes the fused optimizer", "core/training/optim.py",
           'return device.type in ("cpu", "cuda") and not (config.notebook_exact and models == 1)',
           'return device.type in ("cpu", "cuda")'),
    # Its readable twin (reference_step.py), which the fast step is checked against
    Mutant("the twin's forward without ReLU", "core/training/reference_step.py",
           "h = F.linear(h if j == 0 else F.relu(h), weight[m], bias[m])", "h = F.linear(h, weight[m], bias[m])"),
    Mutant("the twin's proximal step crosses zero", "core/training/reference_step.py",
           "p.copy_(p.sign() * (p.abs() - amount).clamp(min=0))", "p.copy_(p.sign() * (p.abs() - amount))"),
    # The optimizers (optim.py)
    Mutant("AdamW's first moment with the wrong weight", "core/training/optim.py",
           "self.exp_avg.lerp_(self.grad, 1 - self.beta1)", "self.exp_avg.lerp_(self.grad, self.beta1)"),
    Mutant("AdamW without bias correction", "core/training/optim.py",
           "step_size = lr / (1 - self.beta1**self.steps)", "step_size = lr"),
    Mutant("AdamW's epsilon 100x", "core/training/optim.py",
           ".div_(correction2_sqrt).add_(self.eps)", ".div_(correction2_sqrt).add_(self.eps * 100)"),
    Mutant("AdamW's decay without the learning rate", "core/training/optim.py",
           "self.param.mul_(1 - lr * self.weight_decay)", "self.param.mul_(1 - self.weight_decay)"),
    Mutant("SGD with a device learning rate ascends", "core/training/optim.py",
           "self.param.addcmul_(direction, self.lr, value=-1)", "self.param.addcmul_(direction, self.lr, value=1)"),
    Mutant("SGD's momentum half-weights the gradient", "core/training/optim.py",
           "self.buf.mul_(self.momentum).add_(self.grad)", "self.buf.mul_(self.momentum).add_(self.grad, alpha=0.5)"),
    Mutant("SGD's weight decay doubled", "core/training/optim.py",
           "self.grad.add_(self.param, alpha=self.weight_decay)",
           "self.grad.add_(self.param, alpha=2 * self.weight_decay)"),
    # The parameter buffer and the penalties (stack.py)
    Mutant("L1 and L2 terms swapped", "core/training/stack.py",
           "self._weights.copy_(torch.tensor([l1, l2],", "self._weights.copy_(torch.tensor([l2, l1],"),
    Mutant("sum(|p|) of one model without the abs", "core/training/stack.py",
           "torch.dot(self._sign, p, out=self._sum_views[0])", "torch.dot(p, p.sign().abs(), out=self._sum_views[0])"),
    Mutant("sum(|p|) of K models without the abs", "core/training/stack.py",
           "torch.mul(self._sign, p, out=self._values[0])", "torch.mul(p, 1.0, out=self._values[0])"),
    Mutant("the proximal step crosses zero", "core/training/stack.py",
           ".sub_(self._amount).clamp_(min=0).mul_(self._sign)", ".sub_(self._amount).mul_(self._sign)"),
    Mutant("L2 gradient halved", "core/training/stack.py",
           "self._l2_slope.copy_(self._per_element(2 * self.l2))", "self._l2_slope.copy_(self._per_element(self.l2))"),
    Mutant("near-zero counts only exact zeros", "core/training/stack.py",
           "torch.le(flags[1, : self.num_weights], threshold,", "torch.le(flags[1, : self.num_weights], 0.0,"),
    Mutant("a model counts as finite whatever its parameters", "core/training/stack.py",
           "torch.mul(p, 0, out=flags[0])", "torch.mul(p, 0, out=flags[0]).nan_to_num_(0.0)"),
    Mutant("a sweep's counts summed over the first block only", "core/training/stack.py",
           "torch.sum(self._block_flags, 0, out=self._checks)",
           "torch.sum(self._block_flags[:1], 0, out=self._checks)"),
    Mutant("copy_models copies the other models", "core/training/stack.py",
           "torch.where(models.view(-1, *[1] * (block.dim() - 1)), s, d)",
           "torch.where(models.view(-1, *[1] * (block.dim() - 1)), d, s)"),
    Mutant("biases never penalized", "core/training/stack.py",
           "if p.dim() > 1 or penalize_biases]", "if p.dim() > 1]"),
    # The loop (engine.py, batches.py)
    Mutant("train accuracy measured on the test set", "core/training/engine.py",
           "self._accuracy(data.train_images, data.train_y)", "self._accuracy(data.test_x, data.test_y)"),
    Mutant("an epoch's samples/s reported as steps/s", "core/training/engine.py",
           "rate = self.config.train_size / max(", "rate = self.config.steps_per_epoch / max("),
    Mutant("a readout's samples/s reported as steps/s", "core/training/engine.py",
           "samples_per_s=n * self.config.batch_size / max(", "samples_per_s=n / max("),
    Mutant("an epoch's time includes its pauses", "core/training/engine.py",
           "return self._now() - self._start - self._paused_total", "return self._now() - self._start"),
    Mutant("curves' epochs off by one", "core/training/engine.py",
           "frozen(epoch - 1 + batches / self.config.steps_per_epoch)",
           "frozen(epoch + batches / self.config.steps_per_epoch)"),
    Mutant("a live learning rate never reaches the step", "core/training/engine.py",
           "            self.compute.set_lr(self.lr)\n", "            pass\n"),
    Mutant("a divergence seen only in the cross-entropy", "core/training/engine.py",
           "finite_steps = np.isfinite(ce + l1 + l2)", "finite_steps = np.isfinite(ce)"),
    Mutant("the shuffle skips the DataLoader's base seed", "core/training/batches.py",
           "    torch.empty((), dtype=torch.int64).random_(generator=rng)  # the iterator's base seed\n", ""),
    Mutant("augmented batches of 63 images instead of 64", "core/training/batches.py",
           "stop = start + self.config.batch_size", "stop = start + self.config.batch_size - 1",
           ("test_augment.py", *NUMERIC_TESTS)),
    Mutant("batches of 63 images instead of 64", "core/training/batches.py",
           "(first + 1) * self._block]", "(first + 1) * self._block - 1]"),
    Mutant("training images not divided by 255", "core/training/dataset.py",
           ".div_(PIXEL_MAX)", ".div_(1)", ("test_data.py", *NUMERIC_TESTS)),
    Mutant("the cache used without its hash checked", "core/files/mnist_cache.py",
           "return data if hashlib.sha256(data).hexdigest() == sha256 else None", "return data",
           ("test_data.py",)),
    Mutant("the cache follows links", "core/files/mnist_cache.py",
           "os.O_RDONLY | _NO_FOLLOW, dir_fd=folder", "os.O_RDONLY, dir_fd=folder", ("test_data.py",)),
    # What is measured and shown of a model (sparsity.py, pruning.py, preprocess.py)
    Mutant("sparsity counts only exact zeros as near zero", "core/training/sparsity.py",
           "torch.stack([(w.abs() <= threshold).sum(), (w == 0).sum()])",
           "torch.stack([(w == 0).sum(), (w == 0).sum()])"),
    Mutant("a unit is dead when any weight is small", "core/training/sparsity.py",
           "return (matrix.abs() <= threshold).all(1).nonzero()",
           "return (matrix.abs() <= threshold).any(1).nonzero()"),
    Mutant("pruning removes the largest weights", "core/training/pruning.py",
           "w[w.abs() <= cut] = 0.0", "w[w.abs() >= cut] = 0.0"),
    Mutant("a drawing centred off by a pixel", "core/training/preprocess.py",
           "top = min(max(round(CENTRE - cy), 0), FIELD - h)", "top = min(max(round(CENTRE - cy) + 1, 0), FIELD - h)"),
    # What a record says (records.py) and what the history keeps (store.py)
    Mutant("a swept model's curves are model 0's", "core/app/records.py",
           "getattr(one, name).extend(getattr(self, name).view()[:, m : m + 1])",
           "getattr(one, name).extend(getattr(self, name).view()[:, 0:1])", ("test_store.py", "test_session.py")),
    Mutant("the collapse rule's spread 10x looser", "core/app/records.py",
           "CHANCE_SPREAD = 0.05", "CHANCE_SPREAD = 0.5", ("test_session.py",)),
    Mutant("time left ignores the batch size", "core/app/records.py",
           "(self.total_steps - self.steps_done) * self.config.batch_size / self.samples_per_s",
           "(self.total_steps - self.steps_done) / self.samples_per_s", ("test_session.py",)),
    Mutant("a record's accuracy is model 0's", "core/app/records.py",
           "value = self.epochs[-1].test_accuracy[model]", "value = self.epochs[-1].test_accuracy[0]",
           ("test_session.py", "test_sweep.py")),
    Mutant("thinned curves lose their last point", "core/files/store.py",
           "picks = np.linspace(0, len(items) - 1, most)", "picks = np.linspace(0, len(items) - 2, most)",
           ("test_store.py",)),
]


def copy_repository(into: Path) -> Path:
    """The checkout's tracked and untracked (not ignored) files, as `into/l1_trainer`, which is
    what the tests import there (PYTHONPATH comes before the editable install's hook)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    root = into / "l1_trainer"
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[bool, float]:
    """(whether every test passed, seconds)."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(root.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
                             *(f"tests/{t}" for t in tests)], cwd=root, env=env, capture_output=True)
    return result.returncode == 0, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", help="mutants whose names contain one of these")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or any(o in m.name for o in args.only)]
    if args.list:
        print("\n".join(f"{m.path}: {m.name}" for m in mutants))
        return 0
    stale = [m for m in mutants if (REPO / m.path).read_text().count(m.original) != 1]
    if stale:
        print("stale (the original text is not in the code exactly once):")
        print("\n".join(f"  {m.path}: {m.name}" for m in stale))
        return 2
    with tempfile.TemporaryDirectory(prefix="l1-trainer-mutants-") as folder:
        root = copy_repository(Path(folder))
        passed, seconds = run_tests(root, NUMERIC_TESTS)
        if not passed:
            print("the tests fail without any mutant: fix them first")
            return 2
        print(f"unmutated: the numerical tests pass ({seconds:.0f} s)")
        survivors = []
        for mutant in mutants:
            target = root / mutant.path
            original = target.read_text()
            target.write_text(original.replace(mutant.original, mutant.mutated))
            try:
                passed, seconds = run_tests(root, mutant.tests)
            finally:
                target.write_text(original)
            print(f"{'SURVIVED' if passed else 'killed  '}  {seconds:5.1f} s  {mutant.path}: {mutant.name}")
            if passed:
                survivors.append(mutant)
    print(f"{len(mutants) - len(survivors)} of {len(mutants)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
