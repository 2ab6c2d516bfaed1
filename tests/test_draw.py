"""The draw-a-digit panel, model files and the test-image gallery (pytest-qt, offscreen)."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from l1_trainer.core.files.modelfile import save_model
from l1_trainer.core.training.compaction import compact
from l1_trainer.core.training.inference import model_from_state

from test_gui import evaluated, make_window, run_to_end


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, balanced):
    """The shared Balanced model, saved as the File menu would."""
    config, state, ended = balanced
    path = tmp_path_factory.mktemp("models") / "balanced.safetensors"
    save_model(path, model_from_state(state), config, {"step": ended.step, "epoch": 3.0})
    return path


@pytest.fixture()
def window(qtbot, tmp_path, mnist):
    window = make_window(qtbot, tmp_path / "settings.ini", mnist)
    window.tabs.setCurrentWidget(window.draw)
    yield window
    window.close()


def draw_one(qtbot, canvas):
    """A vertical stroke with a small flag: a '1' as a person draws it."""
    points = [QPoint(150, 60), QPoint(120, 90), QPoint(150, 60)] + [QPoint(150, y) for y in range(70, 230, 10)]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for point in points[1:]:
        QTest.mouseMove(canvas, point)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def load(qtbot, window, path):
    assert window.controller.open_model(path)
    evaluated(qtbot, window)


def test_without_a_model_the_panel_offers_to_train_or_load(window):
    assert window.draw.model is None
    assert "No trained model yet" in window.draw.prediction.text()
    assert window.draw.no_model.isVisible()


def test_drawing_gives_a_live_prediction_and_the_model_input(qtbot, window, model_file):
    load(qtbot, window, model_file)
    panel = window.draw
    assert "Draw a digit" in panel.prediction.text() and panel.predicted is None
    draw_one(qtbot, panel.canvas)
    assert not panel.canvas.blank
    assert panel.predicted == 1, panel.probabilities
    assert panel.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    heights = panel.bars.opts["height"]
    assert np.allclose(heights, panel.probabilities)
    assert not panel.preview.pixmap().isNull()
    assert f">{panel.predicted}<" in panel.prediction.text()


@pytest.mark.parametrize("how", ["button", "escape", "right-click"])
def test_clear_resets_the_canvas_and_prediction(qtbot, window, model_file, how):
    load(qtbot, window, model_file)
    canvas = window.draw.canvas
    draw_one(qtbot, canvas)
    if how == "button":
        qtbot.mouseClick(window.draw.clear_button, Qt.MouseButton.LeftButton)
    elif how == "escape":
        canvas.setFocus()
        QTest.keyClick(canvas, Qt.Key.Key_Escape)
    else:
        QTest.mouseClick(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, QPoint(10, 10))
    qtbot.waitUntil(lambda: window.draw.predicted is None)
    assert canvas.blank and canvas.ink().max() == 0
    assert "Draw a digit" in window.draw.prediction.text()


def test_pen_width_changes_the_stroke(qtbot, window, model_file):
    load(qtbot, window, model_file)
    window.draw.pen.setValue(6)
    draw_one(qtbot, window.draw.canvas)
    thin = (window.draw.canvas.ink() > 128).sum()
    window.draw.canvas.clear()
    window.draw.pen.setValue(30)
    draw_one(qtbot, window.draw.canvas)
    assert (window.draw.canvas.ink() > 128).sum() > 2 * thin


def test_a_run_gives_the_panel_a_model_of_its_own(qtbot, window):
    window.controls.train_images.setValue(1280)
    window.controls.epochs.setValue(1)
    window.start()
    qtbot.waitUntil(lambda: window.draw.model is not None, timeout=30_000)
    assert not window.draw.no_model.isVisible()
    # A CPU copy built from a snapshot: nothing in it shares memory with the session's weights,
    # let alone with the tensors being trained.
    shown = {p.data_ptr() for p in window.draw.model.parameters()}
    assert shown.isdisjoint(t.data_ptr() for t in window.session.current.state.values())


def test_save_then_load_gives_identical_predictions(qtbot, window, tmp_path):
    window.controls.train_images.setValue(1280)
    window.controls.epochs.setValue(1)
    run_to_end(qtbot, window)
    evaluated(qtbot, window)
    draw_one(qtbot, window.draw.canvas)
    before = window.draw.probabilities.copy()
    path = tmp_path / "mine.safetensors"
    assert window.controller.save_model(path) and path.exists()
    assert "Saved the model" in window.message.text()
    qtbot.mouseClick(window.controls.buttons["resetButton"], Qt.MouseButton.LeftButton)
    assert window.draw.model is None
    load(qtbot, window, path)
    window.draw.predict()
    assert np.array_equal(window.draw.probabilities, before)
    assert window.sparsity.figure.text().endswith("%")


def test_corrupt_or_foreign_file_keeps_the_current_model(qtbot, window, model_file, tmp_path):
    load(qtbot, window, model_file)
    model, current = window.draw.model, window.session.current
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(model_file.read_bytes()[:3000])
    assert not window.controller.open_model(bad)
    assert "Could not open the model" in window.message.text()
    assert window.draw.model is model and window.session.current is current
    foreign = tmp_path / "notes.safetensors"
    foreign.write_text("not a model")
    assert not window.controller.open_model(foreign)
    assert window.draw.model is model


def test_loading_updates_sparsity_and_test_accuracy(qtbot, window, model_file):
    load(qtbot, window, model_file)
    report = window.session.sparsity()
    assert window.sparsity.figure.text() == f"{report.fraction:.1%}"
    accuracy = window.session.current.evaluation.accuracy
    assert 0.85 < accuracy <= 1.0
    assert window.status.state.text() == (f"Current model ({model_file.name}): test accuracy "
                                          f"{accuracy:.2%} on 10,000 test images")
    assert f"Opened {model_file.name}: trained with L1 1e-4, lr 1e-3" in window.message.text()


def test_gallery_shows_random_images_and_mistakes(qtbot, window, model_file):
    load(qtbot, window, model_file)
    gallery = window.gallery
    qtbot.mouseClick(gallery.random_button, Qt.MouseButton.LeftButton)
    assert "true label" in gallery.caption.text() and not gallery.image.pixmap().isNull()
    wrong = gallery.evaluation.misclassified()
    assert gallery.errors.count() == min(len(wrong), 500) > 0
    gallery.errors.setCurrentRow(0)
    index = int(wrong[0])
    assert f"Test image {index}" in gallery.caption.text() and "(wrong)" in gallery.caption.text()
    assert gallery.errors.item(0).text() == (
        f"pred {int(gallery.evaluation.predictions[index])}\ntrue {int(gallery.evaluation.labels[index])}")


def test_pruning_tab_adds_a_curve_per_click(qtbot, window, model_file):
    prune = window.pruning.prune_button
    assert not prune.isEnabled()  # no model yet
    load(qtbot, window, model_file)
    assert prune.isEnabled()
    for clicks in (1, 2):
        qtbot.mouseClick(prune, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda n=clicks: len(window.session.pruning) == n, timeout=30_000)
        assert len(window.pruning.curves) == clicks
    label, points = window.session.pruning[0]
    assert label.startswith(f"{model_file.name}: L1 1e-4, lr 1e-3, penalty")
    x, y = window.pruning.curves[0].getData()
    assert len(x) == 14 and x[0] == 0 and x[-1] == pytest.approx(99, abs=0.1)
    assert y[0] == pytest.approx(100 * points[0].accuracy)
    window.pruning.by_size.setChecked(True)  # accuracy against the compacted network's size
    x, y = window.pruning.curves[0].getData()
    assert list(x) == [p.compacted.weight_count / 1000 for p in points] and x[0] == 52.544
    assert window.pruning.plot.plotItem.getAxis("bottom").labelText.startswith("weights left after compaction")
    qtbot.mouseClick(window.pruning.clear_button, Qt.MouseButton.LeftButton)
    assert not window.pruning.curves and not window.session.pruning


def test_weights_tab_draws_tiles_histograms_and_dead_units(qtbot, window, model_file):
    from l1_trainer.core.files.modelfile import load_model

    window.tabs.setCurrentWidget(window.weights)
    load(qtbot, window, model_file)
    (view,) = window.weights.columns  # one model: one column of tiles
    assert view.image.image.shape == (8 * 30 - 2, 8 * 30 - 2)
    curves = window.weights.curves
    assert len(curves) == 3 and all(len(c.getData()[0]) > 0 for c in curves)  # a layer each
    assert window.weights.threshold_line.value() == pytest.approx(-3.0)  # log10(1e-3)
    model, config, summary = load_model(model_file)
    first = model.layers[1].weight
    alive = torch.nonzero((first.abs() > 1e-3).any(1)).flatten()
    dead_before = first.shape[0] - len(alive)  # L1 may already have silenced some
    assert view.dead_count == dead_before and f"{dead_before} dead" in view.caption.text()
    with torch.no_grad():
        first[alive[:2]] = 0.0  # two more units with every incoming weight zero
    dead_file = model_file.parent / "two-dead.safetensors"
    save_model(dead_file, model, config, summary)
    load(qtbot, window, dead_file)
    assert view.dead_count == dead_before + 2 and len(view.dead.data) == dead_before + 2


def test_weights_tab_updates_live_during_a_run(qtbot, window):
    window.tabs.setCurrentWidget(window.weights)
    window.controls.train_images.setValue(60_000)
    window.controls.epochs.setValue(50)
    window.start()
    image = window.weights.columns[0].image
    qtbot.waitUntil(lambda: image.image is not None, timeout=30_000)
    first = image.image.copy()
    qtbot.waitUntil(lambda: not np.array_equal(image.image, first), timeout=5_000)
    window.controller.stop()


def test_gallery_explains_mistakes_with_probabilities_and_a_confusion_matrix(qtbot, window, model_file):
    load(qtbot, window, model_file)
    gallery = window.gallery
    evaluation = gallery.evaluation
    matrix = gallery.matrix
    counts = evaluation.confusion()
    assert counts.sum() == 10_000 and int(counts.trace()) == int((evaluation.predictions == evaluation.labels).sum())
    assert [[matrix.item(t, p).text() for p in range(10)] for t in range(10)] == \
        [[str(int(counts[t, p])) for p in range(10)] for t in range(10)]
    true, predicted = divmod(int((counts - torch.diag(torch.diag(counts))).argmax()), 10)  # the worst mix-up
    matrix.cellClicked.emit(true, predicted)
    listed = [gallery.errors.item(i).data(Qt.ItemDataRole.UserRole) for i in range(gallery.errors.count())]
    assert listed == evaluation.where(true, predicted).tolist() and listed
    assert f"digit {true} predicted as {predicted}: {len(listed)}" in gallery.listing.text()
    gallery.errors.setCurrentRow(0)
    heights = gallery.bars.opts["height"]
    assert np.allclose(heights, evaluation.probabilities[listed[0]].numpy())
    assert int(np.argmax(heights)) == predicted
    qtbot.mouseClick(gallery.draw_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.draw and not window.draw.canvas.blank
    qtbot.waitUntil(lambda: window.draw.predicted is not None)
    assert window.draw.predicted == predicted  # the same image, through the canvas, same mistake


def test_hidden_units_show_activity_and_dead_units(qtbot, window, model_file):
    load(qtbot, window, model_file)
    draw_one(qtbot, window.draw.canvas)
    qtbot.waitUntil(lambda: window.draw.predicted is not None)
    (first, dead_first), (second, _) = window.draw.units.layers
    assert first.shape == (64,) and second.shape == (32,) and first.max() > 0
    weights = window.session.current.weights()["layers.1.weight"]
    assert dead_first == {u for u in range(64) if (weights[u].abs() <= 1e-3).all()}
    window.controls.threshold.setValue(1.0)  # every weight is now "at or below": all dead
    assert window.draw.units.layers[0][1] == set(range(64))


def test_weights_tab_shows_which_input_pixels_are_still_used(qtbot, window, model_file):
    window.tabs.setCurrentWidget(window.weights)
    load(qtbot, window, model_file)
    first = window.session.current.weights()["layers.1.weight"]
    ignored = int((first.abs() <= 1e-3).all(0).sum())
    (column,) = window.weights.columns
    assert column.ignored_count == ignored > 0  # border pixels carry no ink
    assert f"still looks at: {784 - ignored} of 784" in column.mask_caption.text()
    mask = column.input_mask.pixmap().toImage()
    assert mask.pixelColor(0, 0).value() == 0  # a corner pixel: black, ignored


def test_the_readout_says_what_the_current_model_compacts_to(qtbot, window, balanced, model_file, tmp_path):
    config, state, ended = balanced
    sparse = {name: t.clone() for name, t in state.items()}
    sparse["layers.1.weight"][:, :100] = 0  # 100 pixels no unit looks at
    sparse["layers.1.weight"][5] = 0  # and a first-layer unit with no input left
    path = tmp_path / "sparse.safetensors"
    save_model(path, model_from_state(sparse), config, {"step": ended.step, "epoch": 3.0})
    assert window.sparsity.compacted.text() == ""
    load(qtbot, window, model_file)  # the dense Balanced model: every pixel is read
    assert window.sparsity.compacted.text() == "No input pixel or unit is idle yet: nothing to compact"
    load(qtbot, window, path)
    qtbot.waitUntil(lambda: window.sparsity.compacted.text() != "", timeout=10_000)
    small = compact(sparse)
    assert small.sizes[:2] == (684, 63)
    assert window.sparsity.compacted.text() == f"Compacts to {'-'.join(map(str, small.sizes))}: " \
        f"{small.weight_count:,} weights, {small.nonzero:,} of them non-zero"
