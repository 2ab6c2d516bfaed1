"""A model as an ONNX file, compacted or not, checked with ONNX Runtime before it is written.

The graph is built node by node with onnx's helpers: for a three-layer MLP that is a dozen
nodes, exact and fast, where the PyTorch exporter traced for seconds. It takes the full image:

    images          float32 [N, 1, 28, 28], ink 1.0 and paper 0.0, centred as MNIST's digits
    probabilities   float32 [N, 10], the softmax of
    logits          float32 [N, 10]

and, compacted, gives the pixels it does not read a weight of zero inside, so a caller need
not know which.
onnx and onnxruntime come with the optional extra: pip install 'l1-trainer[export]'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import TensorProto, helper, numpy_helper

from ..errors import ExplainedError
from ..training.compaction import Compacted, compact, uncompacted
from ..training.inference import probabilities
from ..training.model import MLP

OPSET = 17  # ONNX Runtime 1.14 (2023) and later run it
IR_VERSION = 8
SIDE = 28


class ExportError(ExplainedError):
    """The model could not be exported, or its export did not compute what the model does."""


@dataclass(frozen=True)
class OnnxExport:
    data: bytes  # the .onnx file
    network: Compacted  # what it computes (compacted or the full network)
    numbers: int  # parameters stored (weights, biases, and the indices of the kept pixels)
    max_difference: float  # against the app's probabilities on the images it was checked on
    checked_on: int  # images

    def describe(self) -> str:
        """One line: what was written, and how it was checked."""
        sizes = "-".join(map(str, self.network.sizes))
        how = (f"compacted from {'-'.join(map(str, self.network.original))}"
               if self.network.sizes != self.network.original else "not compacted")
        return (f"{sizes} ({how}), {self.numbers:,} numbers, {len(self.data) / 1024:,.0f} KB; ONNX Runtime's "
                f"probabilities on {self.checked_on:,} test images within {self.max_difference:.1e} of the app's")


def export_model(model: MLP, trained_with: str, images: torch.Tensor, compacted: bool = True) -> OnnxExport:
    """A model as ONNX, compacted unless told not to, checked on `images` (N, 784) against the
    app's own probabilities."""
    state = model.state_dict()
    network = compact(state) if compacted else uncompacted(state)
    description = (
        "L1 Trainer model. Input 'images': float32 [N, 1, 28, 28], ink 1.0 on paper 0.0, each digit "
        "centred as MNIST's are. Outputs 'probabilities' and 'logits': float32 [N, 10], digits 0 to 9. "
        f"Trained with {trained_with}. Network {network.describe()}.")
    return export_onnx(network, description, images, probabilities(model, images))


def onnx_model(compacted: Compacted, description: str) -> onnx.ModelProto:
    """The graph of a (compacted or full) network; `description` becomes its doc string."""
    nodes = [helper.make_node("Reshape", ["images", "flat_shape"], ["pixels"])]
    tensors = [numpy_helper.from_array(np.array([-1, SIDE * SIDE], np.int64), "flat_shape")]
    h = "pixels"
    for j, (weight, bias) in enumerate(compacted.layers):
        if j:
            nodes.append(helper.make_node("Relu", [h], [f"relu{j}"]))
            h = f"relu{j}"
        out = "logits" if j == len(compacted.layers) - 1 else f"layer{j + 1}"
        tensors += [numpy_helper.from_array(weight.numpy().astype(np.float32), f"weight{j + 1}"),
                    numpy_helper.from_array(bias.numpy().astype(np.float32), f"bias{j + 1}")]
        first = f"weight{j + 1}"
        if j == 0 and len(compacted.inputs) < SIDE * SIDE:
            first = _spread_over_the_image(compacted, nodes, tensors)
        nodes.append(helper.make_node("Gemm", [h, first, f"bias{j + 1}"], [out], transB=1))
        h = out
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    classes = compacted.sizes[-1]
    graph = helper.make_graph(
        nodes, "l1_trainer_mlp",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 1, SIDE, SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="L1 Trainer", doc_string=description)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _spread_over_the_image(compacted: Compacted, nodes: list[onnx.NodeProto],
                           tensors: list[onnx.TensorProto]) -> str:
    """The first layer's weights for the kept pixels, placed in a (units, 784) matrix of zeros
    inside the graph. Every input of these nodes is a constant, so ONNX Runtime computes the
    matrix once when it loads the model; the file stores only the kept pixels' weights, and each
    image is read in one product (selecting its pixels with a Gather was 5x slower)."""
    units = compacted.sizes[1]
    tensors += [numpy_helper.from_array(compacted.inputs.numpy().astype(np.int64)[None], "kept_pixels"),
                numpy_helper.from_array(np.array([units, SIDE * SIDE], np.int64), "image_weights_shape"),
                numpy_helper.from_array(np.array([units, len(compacted.inputs)], np.int64), "kept_shape")]
    nodes += [helper.make_node("ConstantOfShape", ["image_weights_shape"], ["no_weights"]),
              helper.make_node("Expand", ["kept_pixels", "kept_shape"], ["kept_columns"]),
              helper.make_node("ScatterElements", ["no_weights", "kept_columns", "weight1"], ["image_weight1"],
                               axis=1)]
    return "image_weight1"


def export_onnx(compacted: Compacted, description: str, images: torch.Tensor,
                expected: torch.Tensor, tolerance: float = 1e-5) -> OnnxExport:
    """The file's bytes, once ONNX Runtime has run it on `images` (N, 784) and given
    `expected` (N, 10), the app's probabilities, within `tolerance`."""
    model = onnx_model(compacted, description)
    data = model.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"images": images.reshape(-1, 1, SIDE, SIDE).numpy()})[0]
    difference = float(np.abs(got - expected.numpy()).max())
    if not difference <= tolerance:
        raise ExportError(f"the exported model's probabilities differ from the app's by {difference:.2g} "
                          f"(at most {tolerance:g} allowed); nothing was written")
    numbers = sum(int(np.prod(t.dims)) for t in model.graph.initializer if not t.name.endswith("_shape"))
    return OnnxExport(data, compacted, numbers, difference, len(images))
