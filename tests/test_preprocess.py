import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l1_trainer.core.training.events import RunEnded
from l1_trainer.core.training.inference import evaluate, model_from_state, probabilities
from l1_trainer.core.training.preprocess import BOX, CENTRE, INK_FLOOR, centre_of_mass, preprocess_drawing


def stroke_canvas(height, width, points, thickness):
    """A canvas with a polyline of round dots, ink = 255, like the GUI's canvas."""
    canvas = np.zeros((height, width), np.uint8)
    yy, xx = np.mgrid[:height, :width]
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        for t in np.linspace(0, 1, 60):
            cy, cx = y0 + t * (y1 - y0), x0 + t * (x1 - x0)
            canvas[(yy - cy) ** 2 + (xx - cx) ** 2 <= (thickness / 2) ** 2] = 255
    return canvas


CASES = {
    "seven, centred": (280, 280, [(40, 50), (40, 230), (250, 120)], 18),
    "one, thin, off-centre": (280, 280, [(20, 240), (120, 250)], 2),
    "thick zero, wide canvas": (300, 500, [(50, 100), (50, 300), (250, 300), (250, 100), (50, 100)], 40),
    "tiny two in a corner": (400, 400, [(360, 360), (360, 375), (380, 360), (380, 378)], 3),
    "tall canvas": (900, 120, [(100, 60), (800, 60)], 10),
}


@pytest.mark.parametrize("case", CASES)
def test_ink_is_centred_by_mass_and_fits_the_box(case):
    height, width, points, thickness = CASES[case]
    field = preprocess_drawing(stroke_canvas(height, width, points, thickness))
    assert field.shape == (28, 28) and field.dtype == torch.float32
    assert 0.0 <= field.min() and field.max() <= 1.0 and field.max() > 0.9
    cy, cx = centre_of_mass(field)
    assert abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5, (cy, cx)
    rows = torch.nonzero((field > INK_FLOOR).any(1)).flatten()
    cols = torch.nonzero((field > INK_FLOOR).any(0)).flatten()
    extent = (rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    assert max(extent) <= BOX and max(extent) >= BOX - 1, extent


def test_blank_or_paper_only_input_is_detected():
    assert preprocess_drawing(np.zeros((280, 280), np.uint8)) is None
    assert preprocess_drawing(np.zeros((5, 5))) is None


def test_float_input_scale_does_not_matter():
    canvas = stroke_canvas(280, 280, [(40, 140), (240, 140)], 16)
    assert torch.allclose(preprocess_drawing(canvas), preprocess_drawing(canvas / 255.0), atol=1e-6)


def test_non_2d_input_is_rejected():
    with pytest.raises(ValueError, match="2-D grayscale"):
        preprocess_drawing(np.zeros((28, 28, 3)))


@pytest.fixture(scope="module")
def trained(balanced):
    """The shared model trained 3 epochs at Balanced, and how its run ended."""
    _, state, ended = balanced
    assert isinstance(ended, RunEnded)
    return model_from_state(state), ended


def test_drawn_test_digits_score_like_the_originals(mnist, trained):
    """MNIST test digits upscaled 10x onto a 400x400 canvas at random places, as if drawn."""
    model, _ = trained
    n = 1000
    images, labels = mnist.test_x[:n].reshape(n, 1, 28, 28), mnist.test_y[:n]
    original = evaluate(model, images, labels).accuracy
    big = F.interpolate(images, size=(280, 280), mode="bilinear", align_corners=False)[:, 0]
    rng = np.random.default_rng(0)
    fields = []
    for image in big:
        canvas = torch.zeros(400, 400)
        top, left = rng.integers(0, 121, size=2)
        canvas[top : top + 280, left : left + 280] = image
        fields.append(preprocess_drawing(canvas))
    drawn = evaluate(model, torch.stack(fields), labels).accuracy
    print(f"accuracy on the 28x28 originals {original:.2%}, drawn and preprocessed {drawn:.2%}")
    assert drawn >= 0.95 * original


def test_model_from_state_and_probabilities(mnist, trained):
    model, ended = trained
    assert [m.out_features for m in model.linears()] == [64, 32, 10]
    probs = probabilities(model, mnist.test_x[:5])
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))
    full = evaluate(model, mnist.test_x, mnist.test_y)
    assert full.accuracy == pytest.approx(ended.test_accuracy[0])  # the engine's, same weights
    wrong = full.misclassified()
    assert len(wrong) == round((1 - full.accuracy) * 10_000)
    assert (full.predictions[wrong] != mnist.test_y[wrong]).all()
