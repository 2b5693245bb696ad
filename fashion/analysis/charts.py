"""Plotly figures for the app: pure functions from numbers to `go.Figure`.

Nothing here imports Streamlit, so every chart can be built and checked in a plain test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fashion.analysis.metrics import normalize_rows, smoothed_loss_floor
from fashion.card import ModelCard
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.trust.confidence import N_BINS, ece, reliability

# One palette for the whole app, so "correct" and "wrong" mean the same colour everywhere.
NEUTRAL = "#b8c2cc"
PREDICTED = "#4c6ef5"
CORRECT = "#2f9e44"
WRONG = "#e03131"
TRUE_MARK = "#212529"
# The true class's bar outline: orange reads on a light and on a dark page (near-black
# vanished on the dark theme).
TRUE_OUTLINE = "#f08c00"
SERIES = ("#4c6ef5", "#f08c00", "#2f9e44", "#ae3ec9", "#e03131", "#1098ad", "#5c940d")


def _compact(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def probability_bars(
    probs: np.ndarray, true_label: int | None = None, title: str | None = None
) -> go.Figure:
    """Horizontal bars of the 10 class probabilities, the predicted class highlighted.

    Args:
        probs: (10,) probabilities.
        true_label: for a test sample, the true class: its bar is outlined and the
            predicted bar is green when it matches, red when it does not.
        title: optional figure title.

    Returns:
        A figure with one bar per class, in label order from top to bottom.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (NUM_CLASSES,):
        raise ValueError(f"expected {NUM_CLASSES} probabilities, got shape {probs.shape}")
    pred = int(probs.argmax())
    colours = [NEUTRAL] * NUM_CLASSES
    if true_label is None:
        colours[pred] = PREDICTED
    else:
        colours[pred] = CORRECT if pred == true_label else WRONG
    outline = [0] * NUM_CLASSES
    labels = list(CLASS_NAMES)
    if true_label is not None:
        outline[true_label] = 3
        labels[true_label] = f"{CLASS_NAMES[true_label]} (true)"
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=labels,
            orientation="h",
            marker=dict(color=colours, line=dict(color=TRUE_OUTLINE, width=outline)),
            text=[f"{p:.1%}" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title=None, showgrid=False)
    fig.update_yaxes(autorange="reversed", title=None)
    if title:
        fig.update_layout(title=title)
    return _compact(fig, 340)


CELL_TRACE = 1  # in confusion_heatmap: trace 0 is the heatmap, 1 the clickable markers
# One colour scale for the whole matrix on z in [-1, 1]: the diagonal (right answers) on
# [-1, -0.2] in greens, the mistakes on [0, 1] in reds scaled to the largest mistake, so
# the big diagonal cannot wash the mistakes out. Empty cells are a light grey that reads
# on a light and a dark page alike (the counts on them stay dark).
CONFUSION_SCALE = [
    [0.0, "#2b8a3e"],
    [0.4, "#b2f2bb"],
    [0.5, "#f1f3f5"],
    [0.6, "#ffc9c9"],
    [1.0, "#c92a2a"],
]


def cell_text(count: int, fraction: float, normalized: bool) -> str:
    """What a confusion cell says: the count, or its share of the row.

    A share is never rounded to "0%" while images are behind it: under 10 % it keeps one
    decimal (1 image of 1,000 is "0.1%"), and anything under 0.05 % is "<0.1%".
    """
    if not normalized or count == 0:
        return str(int(count))
    if fraction >= 0.095:
        return f"{fraction:.0%}"
    return f"{fraction:.1%}" if fraction >= 0.0005 else "<0.1%"


def confusion_heatmap(
    cm: np.ndarray, normalized: bool = False, selected: tuple[int, int] | None = None
) -> go.Figure:
    """Confusion-matrix heatmap whose cells can be clicked (rows = true, columns = predicted).

    Plotly heatmaps send no selection events to Streamlit (streamlit#8760), so an
    invisible scatter marker sits on every cell; clicking a cell selects its marker,
    whose `customdata` is `[true, predicted]`.

    Args:
        cm: (10, 10) counts.
        normalized: show each row as fractions of the true class instead of counts.
        selected: (true, predicted) cell to outline, e.g. the one whose images are shown.
    """
    cm = np.asarray(cm)
    frac = normalize_rows(cm)
    text = [
        [cell_text(int(c), float(f), normalized) for c, f in zip(crow, frow, strict=True)]
        for crow, frow in zip(cm, frac, strict=True)
    ]
    diagonal = np.eye(NUM_CLASSES, dtype=bool)
    worst = float(frac[~diagonal].max()) or 1.0
    # Mistakes: 0..1 relative to the worst one (square root spreads the small ones);
    # right answers: -1..-0.2 by the row's accuracy.
    z = np.where(diagonal, -(0.2 + 0.8 * frac), np.sqrt(frac / worst))
    # The class names as every other page spells them; upright, they fit a phone.
    names = list(CLASS_NAMES)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            zmin=-1,
            zmax=1,
            colorscale=CONFUSION_SCALE,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=11),
            hoverinfo="skip",
            showscale=False,
            xgap=1,
            ygap=1,
        )
    )
    true_idx, pred_idx = np.meshgrid(np.arange(NUM_CLASSES), np.arange(NUM_CLASSES), indexing="ij")
    fig.add_trace(
        go.Scatter(
            x=[names[j] for j in pred_idx.ravel()],
            y=[names[i] for i in true_idx.ravel()],
            mode="markers",
            marker=dict(size=34, symbol="square", color="rgba(0,0,0,0)"),
            # Plain lists: numpy would travel as a typed array, which the browser hands
            # back in selection events as an object, not a list.
            customdata=np.stack([true_idx.ravel(), pred_idx.ravel(), cm.ravel()], axis=1).tolist(),
            text=[
                f"true {CLASS_NAMES[i]}<br>predicted {CLASS_NAMES[j]}"
                for i, j in zip(true_idx.ravel(), pred_idx.ravel(), strict=True)
            ],
            hovertemplate="%{text}<br>%{customdata[2]} images<extra></extra>",
            showlegend=False,
        )
    )
    # Upright column labels and no axis titles (the page's caption names rows and
    # columns): slanted labels and titles took a third of a phone's width.
    fig.update_xaxes(side="top", tickangle=-90, showgrid=False)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    if selected is not None:
        true, pred = selected
        fig.add_shape(
            type="rect",
            x0=pred - 0.5,
            x1=pred + 0.5,
            y0=true - 0.5,
            y1=true + 0.5,
            line=dict(color=PREDICTED, width=3),
        )
    fig.update_layout(clickmode="event+select", dragmode=False)
    return _compact(fig, 520)


def confusion_cell(point: dict) -> tuple[int, int] | None:
    """(true, predicted) of a cell clicked in `confusion_heatmap`, from a selection point.

    Args:
        point: one entry of a Streamlit plotly selection event's `selection.points`.

    Returns:
        None for a point that is not one of the cell markers.
    """
    index = point.get("point_index", point.get("point_number"))
    if point.get("curve_number") != CELL_TRACE or index is None:
        return None
    true, pred = divmod(int(index), NUM_CLASSES)  # markers are in row-major order
    return (true, pred) if true < NUM_CLASSES else None


def training_curves(cards: Sequence[ModelCard]) -> go.Figure:
    """Loss and accuracy per epoch for each model card: train solid, validation dashed."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for n, card in enumerate(cards):
        history = card.history
        colour = SERIES[n % len(SERIES)]
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for prefix, dash in (("", "solid"), ("val_", "dash")):
                values = history.get(prefix + metric)
                if not values:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)),
                        y=values,
                        mode="lines",
                        line=dict(color=colour, dash=dash),
                        name=f"{card.name} ({'validation' if prefix else 'train'})",
                        legendgroup=card.name,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
    # A model trained with label smoothing is scored against softened targets: its loss
    # has a floor above 0. One dotted line per smoothing value in use.
    smoothings = {float(c.config.get("label_smoothing") or 0.0) for c in cards} - {0.0}
    for smoothing in sorted(smoothings):
        fig.add_hline(
            y=smoothed_loss_floor(smoothing),
            line=dict(color=NEUTRAL, dash="dot", width=1.5),
            annotation_text=f"floor (smoothing {smoothing:g})",
            annotation_position="top right",
            annotation_font_size=11,
            row=1,
            col=1,
        )
    # Whole epochs only: a 3-epoch run had ticks at 1.5 and 2.5.
    fig.update_xaxes(title="epoch", tickformat="d", dtick=_epoch_step(cards))
    # The legend under the plots, not beside them: beside, it left a phone's plots a
    # third of the width.
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return _compact(fig, 460)


def _epoch_step(cards: Sequence[ModelCard]) -> int:
    """A whole-number tick step giving at most ~10 ticks for the longest history."""
    longest = max((len(v) for c in cards for v in c.history.values()), default=1)
    return max(1, -(-longest // 10))


def per_class_accuracy(cards: Sequence[ModelCard]) -> go.Figure:
    """Grouped bars: each model's test accuracy on each class."""
    fig = go.Figure()
    for n, card in enumerate(cards):
        values = card.per_class_accuracy
        if not values:
            continue
        fig.add_trace(
            go.Bar(
                x=list(CLASS_NAMES),
                y=values,
                name=card.name,
                marker_color=SERIES[n % len(SERIES)],
                hovertemplate="%{x}: %{y:.1%}<extra>" + card.name + "</extra>",
            )
        )
    lowest = min((min(c.per_class_accuracy) for c in cards if c.per_class_accuracy), default=0.0)
    fig.update_yaxes(range=[max(0.0, lowest - 0.05), 1.0], tickformat=".0%")
    fig.update_layout(barmode="group", legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return _compact(fig, 400)


def reliability_diagram(
    probs_before: np.ndarray,
    probs_after: np.ndarray | None,
    labels: np.ndarray,
    n_bins: int = N_BINS,
    title: str = "Reliability diagram (test set)",
):
    """A plotly reliability diagram: accuracy per confidence bin vs the diagonal.

    Args:
        probs_before: (N, K) probabilities with temperature 1.
        probs_after: (N, K) calibrated probabilities, or None to draw one series only.
        labels: (N,) int labels.

    Returns:
        plotly.graph_objects.Figure with one bar series per input, ECE in the legend.
    """
    fig = go.Figure()
    series = [("before (T = 1)", probs_before, "#999999")]
    if probs_after is not None:
        series.append(("calibrated", probs_after, "#1f77b4"))
    for name, probs, color in series:
        r = reliability(probs, labels, n_bins)
        centers = (r["lower"] + r["upper"]) / 2
        fig.add_trace(
            go.Bar(
                x=centers,
                y=np.nan_to_num(r["accuracy"]),
                width=1 / n_bins * (0.9 if probs_after is None else 0.45),
                name=f"{name}: ECE {ece(probs, labels, n_bins):.2%}",
                marker_color=color,
                customdata=np.stack([r["count"], np.nan_to_num(r["confidence"])], axis=-1),
                hovertemplate="accuracy %{y:.3f}<br>mean confidence %{customdata[1]:.3f}"
                "<br>%{customdata[0]} images<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfectly calibrated",
            line={"dash": "dash", "color": "#868e96"},  # grey: visible on a light and a dark page
        )
    )
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis={"title": "confidence (top probability)", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1]},
        legend={"x": 0.01, "y": 0.99},
    )
    return fig


# Tableau 10: ten hues most people tell apart, one per class on the test-set map.
CLASS_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f",
)  # fmt: skip
# Points the filters leave out: still drawn, so the shape stays; a translucent grey
# reads as "background" on the light and the dark theme alike.
CONTEXT = "rgba(134, 142, 150, 0.22)"


def _class_points(
    xy: np.ndarray, idx: np.ndarray, c: int, pred: np.ndarray, confidence: np.ndarray
) -> go.Scattergl:
    """The test images `idx` of true class `c`: a dot each, a cross where the model errs."""
    wrong = pred[idx] != c
    text = [
        f"#{i} · true <b>{CLASS_NAMES[c]}</b><br>"
        + (f"said <b>{CLASS_NAMES[p]}</b> {q:.0%} ✗" if w else f"said {CLASS_NAMES[p]} {q:.0%}")
        for i, p, q, w in zip(idx, pred[idx], confidence[idx], wrong, strict=True)
    ]
    return go.Scattergl(
        x=xy[idx, 0],
        y=xy[idx, 1],
        mode="markers",
        marker=dict(
            color=CLASS_COLOURS[c],
            size=np.where(wrong, 9, 5).tolist(),
            symbol=np.where(wrong, "x", "circle").tolist(),
            line=dict(color=TRUE_MARK, width=np.where(wrong, 0.8, 0).tolist()),
        ),
        customdata=idx.tolist(),
        text=text,
        hovertemplate="%{text}<extra></extra>",
        name=CLASS_NAMES[c],
    )


def _add_your_image(
    fig: go.Figure, xy: np.ndarray, placed: np.ndarray | None, neighbours: np.ndarray | None
) -> None:
    """A star where an uploaded image lands, rings round its nearest test images."""
    if neighbours is not None and len(neighbours):
        fig.add_trace(
            go.Scatter(
                x=xy[neighbours, 0],
                y=xy[neighbours, 1],
                mode="markers",
                marker=dict(size=14, symbol="circle-open", color=TRUE_MARK, line=dict(width=2)),
                hoverinfo="skip",
                name="its nearest test images",
            )
        )
    if placed is not None:
        fig.add_trace(
            go.Scatter(
                x=[float(placed[0])],
                y=[float(placed[1])],
                mode="markers",
                marker=dict(
                    size=24, symbol="star", color="#ffd43b", line=dict(color=TRUE_MARK, width=2)
                ),
                hovertemplate="your image lands here<extra></extra>",
                name="your image",
            )
        )


def map_of_test_set(
    xy: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    confidence: np.ndarray,
    shown: np.ndarray,
    placed: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
    height: int = 620,
) -> go.Figure:
    """The test set as a map: one colour per true class, a cross for each mistake.

    Every coloured point carries its test index as `customdata` (a plain int), which
    Streamlit's selection events hand back; `map_selection` reads them.

    Args:
        xy: (N, 2) map coordinates (fashion.analysis.feature_map), row i = test image i.
        labels, pred: (N,) true and predicted classes.
        confidence: (N,) probability of the predicted class.
        shown: test indices the filters keep, drawn in colour; the others are drawn
            in light grey underneath, without hover, so the map keeps its shape.
        placed: (2,) where an uploaded image lands, drawn as a star.
        neighbours: test indices of its nearest test images, ringed.
    """
    xy = np.asarray(xy, dtype=np.float64)
    labels, pred = np.asarray(labels), np.asarray(pred)
    shown = np.asarray(shown, dtype=np.int64)
    fig = go.Figure()
    rest = np.setdiff1d(np.arange(len(xy)), shown)
    fig.add_trace(
        go.Scattergl(
            x=xy[rest, 0],
            y=xy[rest, 1],
            mode="markers",
            marker=dict(size=4, color=CONTEXT),
            hoverinfo="skip",
            name="filtered out",
            showlegend=len(rest) > 0,
        )
    )
    for c in range(NUM_CLASSES):
        fig.add_trace(_class_points(xy, shown[labels[shown] == c], c, pred, confidence))
    _add_your_image(fig, xy, placed, neighbours)
    # t-SNE's axes have no units or meaning: only who is near whom counts.
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        # Pan, not lasso: Streamlit turns click-to-select off while the lasso or box tool
        # is the drag mode, so with lasso as the default a click on a dot did nothing.
        # The lasso and box are one click away in the toolbar.
        dragmode="pan",
        clickmode="event+select",
        hovermode="closest",
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, itemsizing="constant"),
    )
    return _compact(fig, height)


def map_selection(points: Sequence[dict]) -> list[int]:
    """Test indices of the points selected on a `test_map` (clicked, boxed or lassoed).

    Points without a test index (the greyed-out context, the star, the rings) are
    skipped; each index appears once, in selection order.
    """
    seen: dict[int, None] = {}
    for point in points:
        index = point.get("customdata")
        if isinstance(index, list):  # some plotly versions wrap scalar customdata
            index = index[0] if index else None
        if isinstance(index, int | float) and not isinstance(index, bool):
            seen.setdefault(int(index), None)
    return list(seen)


def disagreement_bars(
    only_a: Sequence[int], only_b: Sequence[int], name_a: str, name_b: str
) -> go.Figure:
    """Per true class: images only model A gets right, and images only model B gets right."""
    fig = go.Figure()
    for counts, name, colour in ((only_a, name_a, SERIES[0]), (only_b, name_b, SERIES[1])):
        fig.add_trace(
            go.Bar(
                x=list(CLASS_NAMES),
                y=list(counts),
                name=f"only {name} right",
                marker_color=colour,
                hovertemplate="%{x}: %{y} images<extra>only " + name + " right</extra>",
            )
        )
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.12, x=0))
    fig.update_yaxes(title="test images")
    return _compact(fig, 340)
