"""A sparse model as ONNX, full against compacted, in one run: size on disk and ONNX Runtime's
time for the 10,000 test images.

    python benchmarks/bench_onnx.py [--repeats 20]

The model is the one issue 21 measured: L1 0.1 by the proximal method, lr 1e-3, 2 epochs of
32,768 images (the CLI's `train --l1-weight 0.1 --lr 1e-3 --l1-method proximal --epochs 2
--train-subset 32768`). Both files are run alternately on one thread, each keeping its fastest.
"""

from __future__ import annotations

import argparse
import time

import onnxruntime
import torch

from l1_trainer.core.files.data import load_mnist
from l1_trainer.core.files.onnx_export import export_model
from l1_trainer.core.training.config import TrainConfig
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.inference import model_from_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_mnist("cpu")
    config = TrainConfig(l1_weight=0.1, lr=1e-3, l1_method="proximal", epochs=2, train_subset=32_768, device="cpu")
    trainer = Trainer(config, data)
    ended = [e for e in trainer.run()][-1]
    model = model_from_state(trainer.latest_weights().state)
    print(f"model: {ended.test_accuracy[0]:.2%} test accuracy, {ended.sparsity[0].exact_zeros:,} of "
          f"{ended.sparsity[0].size:,} weights exactly zero")
    exports = {name: export_model(model, "L1 0.1, proximal", data.test_x, compacted)
               for name, compacted in (("full", False), ("compacted", True))}
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    sessions = {name: onnxruntime.InferenceSession(e.data, options, providers=["CPUExecutionProvider"])
                for name, e in exports.items()}
    images = {"images": data.test_x.reshape(-1, 1, 28, 28).numpy()}
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(args.repeats):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(["probabilities"], images)
            times[name].append(time.perf_counter() - start)
    for name, export in exports.items():
        print(f"{name:10s} {export.describe()}; {min(times[name]) * 1000:.2f} ms per 10,000 images "
              f"(ONNX Runtime {onnxruntime.__version__}, 1 thread, fastest of {args.repeats})")
    full, small = exports["full"], exports["compacted"]
    print(f"compacted / full: {len(small.data) / len(full.data):.2f} of the bytes, "
          f"{small.numbers / full.numbers:.2f} of the numbers, "
          f"{min(times['compacted']) / min(times['full']):.2f} of the time")


if __name__ == "__main__":
    main()
