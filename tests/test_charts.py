"""The app's plotly figures, built from real model cards and checked trace by trace."""

from __future__ import annotations

import numpy as np
import pytest

from fashion.analysis import charts
from fashion.classes import CLASS_NAMES, NUM_CLASSES


def bar_colours(fig) -> list[str]:
    return list(fig.data[0].marker.color)


def test_probability_bars_show_all_ten_and_highlight_the_prediction():
    probs = np.array([0.01, 0.02, 0.03, 0.04, 0.6, 0.05, 0.15, 0.04, 0.03, 0.03])
    fig = charts.probability_bars(probs)
    np.testing.assert_allclose(fig.data[0].x, probs)
    assert list(fig.data[0].y) == list(CLASS_NAMES)
    colours = bar_colours(fig)
    assert colours[4] == charts.PREDICTED
    assert colours.count(charts.NEUTRAL) == NUM_CLASSES - 1
    assert list(fig.data[0].text)[4] == "60.0%"


@pytest.mark.parametrize(("true", "colour"), [(4, charts.CORRECT), (6, charts.WRONG)])
def test_probability_bars_mark_the_true_class(true, colour):
    probs = np.full(NUM_CLASSES, 0.04)
    probs[4] = 0.64
    fig = charts.probability_bars(probs, true_label=true)
    assert bar_colours(fig)[4] == colour
    widths = list(fig.data[0].marker.line.width)
    assert widths[true] > 0 and sum(w > 0 for w in widths) == 1
    assert fig.data[0].y[true] == f"{CLASS_NAMES[true]} (true)"


def test_probability_bars_refuse_the_wrong_shape():
    with pytest.raises(ValueError, match="10 probabilities"):
        charts.probability_bars(np.ones(9) / 9)


def test_confusion_heatmap_cells_carry_their_pair_and_count(shipped_cards):
    cm = np.array(shipped_cards[0].confusion_matrix)
    fig = charts.confusion_heatmap(cm)
    heat, cells = fig.data[0], fig.data[charts.CELL_TRACE]
    assert heat.type == "heatmap" and cells.type == "scatter"
    assert [list(row) for row in heat.text] == [[str(v) for v in row] for row in cm]
    custom = np.array(cells.customdata)
    assert custom.shape == (NUM_CLASSES * NUM_CLASSES, 3)
    for k, (true, pred, count) in enumerate(custom):
        assert (true, pred) == divmod(k, NUM_CLASSES)
        assert count == cm[true, pred]
        # What a click on that marker sends back through Streamlit's selection event.
        point = {"curve_number": charts.CELL_TRACE, "point_index": k, "customdata": {}}
        assert charts.confusion_cell(point) == (true, pred)
    assert custom[:, 2].sum() == cm.sum() == 10_000


def test_confusion_cell_ignores_points_that_are_not_cells():
    assert charts.confusion_cell({"curve_number": 0, "point_index": 3}) is None
    assert charts.confusion_cell({"curve_number": charts.CELL_TRACE}) is None
    assert charts.confusion_cell({"curve_number": charts.CELL_TRACE, "point_index": 100}) is None


def test_row_normalised_heatmap_shows_each_rows_fractions(shipped_cards):
    cm = np.array(shipped_cards[0].confusion_matrix)
    fig = charts.confusion_heatmap(cm, normalized=True)
    diag = [fig.data[0].text[k][k] for k in range(NUM_CLASSES)]
    assert diag == [f"{cm[k, k] / cm[k].sum():.0%}" for k in range(NUM_CLASSES)]


def test_training_curves_have_train_and_validation_for_every_card(shipped_cards):
    fig = charts.training_curves(shipped_cards)
    for card in shipped_cards:
        history = card.history
        mine = [t for t in fig.data if t.legendgroup == card.name]
        # loss + accuracy, each train (solid) and validation (dashed) when recorded.
        expected = sum(
            bool(history.get(k)) for k in ("loss", "val_loss", "accuracy", "val_accuracy")
        )
        assert len(mine) == expected > 0
        val_loss = next(t for t in mine if "validation" in t.name and t.xaxis == "x")
        assert val_loss.line.dash == "dash"
        np.testing.assert_allclose(val_loss.y, history["val_loss"])


def test_per_class_accuracy_has_one_series_per_model(shipped_cards):
    fig = charts.per_class_accuracy(shipped_cards)
    assert [t.name for t in fig.data] == [c.name for c in shipped_cards]
    for trace, card in zip(fig.data, shipped_cards):
        np.testing.assert_allclose(trace.y, card.per_class_accuracy)


def test_row_normalised_cells_with_images_never_read_zero_percent():
    cm = np.diag(np.full(NUM_CLASSES, 990))
    cm[0, 1], cm[0, 2], cm[2, 3] = 1, 9, 0  # 0.1 % and 0.9 % of a 1,000-image row
    cm[0, 0] = 990
    fig = charts.confusion_heatmap(cm, normalized=True)
    text = fig.data[0].text
    assert text[0][1] == "0.1%" and text[0][2] == "0.9%" and text[2][3] == "0"
    assert charts.cell_text(1, 1 / 5000, normalized=True) == "<0.1%"


def test_mistakes_are_coloured_apart_from_the_diagonal(shipped_cards):
    """The diagonal sits on its own half of the scale, so a big diagonal cannot wash out
    the mistakes: the most common mistake gets the darkest red whatever the accuracy."""
    cm = np.array(shipped_cards[0].confusion_matrix)
    z = np.array(charts.confusion_heatmap(cm).data[0].z)
    diagonal = np.eye(NUM_CLASSES, dtype=bool)
    assert (z[diagonal] < 0).all() and (z[~diagonal] >= 0).all()
    assert z[~diagonal].max() == pytest.approx(1.0)
    assert (z[~diagonal][cm[~diagonal] > 0] > 0).all()  # any mistake is tinted


def test_the_epoch_axis_has_whole_epochs_only():
    from fashion.card import ModelCard

    short = charts.training_curves([ModelCard(name="a", history={"loss": [1.0, 0.8, 0.7]})])
    assert short.layout.xaxis.dtick == 1 and short.layout.xaxis.tickformat == "d"
    long = charts.training_curves([ModelCard(name="b", history={"loss": [1.0] * 72})])
    assert long.layout.xaxis.dtick == 8  # whole, about ten ticks


def test_the_confusion_matrix_spells_the_classes_as_every_page_does():
    fig = charts.confusion_heatmap(np.eye(10, dtype=int) * 100)
    assert list(fig.data[0].x) == list(CLASS_NAMES) == list(fig.data[0].y)
