"""Using a trained model outside training: rebuilding it from weights, predicting, evaluating."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .model import MLP
from .weights import hidden_sizes_of


def model_from_state(state: Mapping[str, torch.Tensor]) -> MLP:
    """An MLP with the hidden sizes that `state` (a state_dict or snapshot) implies."""
    model = MLP(hidden_sizes_of(state))
    model.load_state_dict(state)
    return model.eval()


@torch.inference_mode()
def probabilities(model: MLP, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities, (N, 10), for images of shape (N, 28, 28) or (N, 784) in [0, 1]."""
    return torch.softmax(model(images.reshape(len(images), -1)), dim=1)


@torch.inference_mode()
def activations(model: MLP, image: torch.Tensor) -> list[torch.Tensor]:
    """Each hidden layer's activations (after ReLU) for one image (28, 28) or (784,)."""
    h = image.reshape(1, -1)
    found = []
    for layer in model.layers[1:]:
        h = layer(h)
        if isinstance(layer, torch.nn.ReLU):
            found.append(h[0].clone())
    return found


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on a labelled set, with every image's ten probabilities."""

    predictions: torch.Tensor  # (N,) int64
    labels: torch.Tensor
    probabilities: torch.Tensor  # (N, 10)

    @property
    def accuracy(self) -> float:
        return (self.predictions == self.labels).float().mean().item()

    def misclassified(self) -> torch.Tensor:
        """Indices of the wrongly predicted images, in order."""
        return torch.nonzero(self.predictions != self.labels).flatten()

    def confusion(self) -> torch.Tensor:
        """(10, 10) counts: row = true digit, column = predicted digit."""
        return torch.bincount(10 * self.labels + self.predictions, minlength=100).view(10, 10)

    def where(self, true: int, predicted: int) -> torch.Tensor:
        """Indices of the images of digit `true` predicted as `predicted`, in order."""
        return torch.nonzero((self.labels == true) & (self.predictions == predicted)).flatten()


@torch.inference_mode()
def evaluate(model: MLP, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    probs = probabilities(model, images)
    return Evaluation(probs.argmax(1), labels, probs)
