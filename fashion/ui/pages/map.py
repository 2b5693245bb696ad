"""Map page: all 10,000 test images where the model puts them, and your image among them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.analysis import charts, feature_map
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.data import preprocess, uploads
from fashion.ui import detail, state
from fashion.ui.canvas import garment_canvas
from fashion.ui.images import enlarge

ANY = -1
SCOPE = "map"  # fashion.ui.detail: this page's open detail and highlighted tile
SELECTION_KEY = "map_selection"  # test indices picked on the map (a click, a box, a lasso)
MAX_SHOWN = 24  # selected images shown at once (a lasso can take thousands)
CANVAS_SIZE = 224


def render() -> None:
    if (name := state.page_model("Map of the test set")) is None:
        return
    with state.friendly_errors("the map"):
        show(name)


@st.cache_data(show_spinner=False)
def _stored_map(name: str, mtime_ns: int) -> feature_map.TestMap:
    return feature_map.TestMap.load(feature_map.map_path(name))


def stored_map(name: str) -> feature_map.TestMap | None:
    """The map file of a shipped model (re-read when `python -m fashion map` rewrites it)."""
    path = feature_map.map_path(name)
    return _stored_map(name, path.stat().st_mtime_ns) if path.exists() else None


@st.cache_data(show_spinner=False)
def fingerprint(name: str) -> str:
    return feature_map.weights_fingerprint(state.classifier(name).model)


@st.cache_data(show_spinner="Computing the features of the 10,000 test images (once per model)…")
def test_features(name: str) -> np.ndarray:
    """(10000, D) penultimate-layer features of the shipped model `name`."""
    return feature_map.penultimate(state.classifier(name), state.dataset().test.as_float())


def _on_select() -> None:
    """A click, box or lasso on the map -> the selected test indices."""
    event = st.session_state.get("map_chart") or {}
    picked = charts.map_selection(event.get("selection", {}).get("points", []))
    st.session_state[SELECTION_KEY] = picked
    if len(picked) == 1:  # a click on one dot: its image and detail at once
        detail.open_detail(SCOPE, picked[0])


def _clear_selection() -> None:
    st.session_state[SELECTION_KEY] = []


def show(name: str) -> None:
    if state.session_model(name) is not None:
        st.info(
            f"**{name}** was trained here in this session; maps are computed for the shipped "
            "models (t-SNE of 10,000 images takes minutes). Pick a shipped model in the sidebar."
        )
        return
    test_map = stored_map(name)
    if test_map is None:
        st.warning(
            f"No map for **{name}** yet. Compute it with "
            f"`python -m fashion map --model {name}` (a few minutes on 2 CPU cores)."
        )
        return
    if test_map.fingerprint != fingerprint(name):
        st.error(
            f"The stored map was computed from other weights than today's **{name}** "
            f"(the model was retrained). Recompute it: `python -m fashion map --model {name}`."
        )
        return
    probs, labels = state.probabilities_on_test_set(name), state.labels_of_test_set()
    pred = probs.argmax(axis=1)
    st.caption(
        f"Each dot is one of the 10,000 official test images, where **{name}** puts it: "
        "images it sees as alike sit together. Colour = true class, **✕ = a mistake**. "
        "Hover for the label and the prediction; **click a dot** to see its image and "
        "detail, or pick the **lasso** (or box) in the chart's toolbar and draw round a group "
        "to see its images."
    )
    shown = filters(probs, labels)
    wrong = int((pred[shown] != labels[shown]).sum())
    st.caption(f"**{len(shown):,}** of 10,000 images in colour, **{wrong:,}** of them mistakes.")
    map_box, selection_box = st.container(), st.container()
    placement = your_image(name, test_map)
    with map_box:
        fig = charts.map_of_test_set(
            test_map.xy,
            labels,
            pred,
            probs.max(axis=1),
            shown,
            placed=None if placement is None else placement.xy,
            neighbours=None if placement is None else placement.neighbours,
        )
        st.plotly_chart(
            fig,
            key="map_chart",
            on_select=_on_select,
            selection_mode=("points", "box", "lasso"),
            config={"displaylogo": False, "modeBarButtonsToRemove": ["toImage"]},
        )
        st.caption(
            f"How: a {test_map.method} ({test_map.seconds:.0f} s, computed once with the "
            "model by `python -m fashion map`). Distances between clouds mean little in t-SNE; "
            "who touches whom means a lot: the Shirt, T-shirt/top, Pullover and Coat clouds "
            "running into each other is the confusion matrix's worst corner, seen from above."
        )
    with selection_box:
        selected_images(name, probs, labels)


def filters(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    fmt = {ANY: "Any", **dict(enumerate(CLASS_NAMES))}.__getitem__
    options = [ANY, *range(NUM_CLASSES)]
    a, b, c = st.columns([1.4, 1, 1])
    kind = a.selectbox(
        "Show", list(feature_map.FILTERS), format_func=feature_map.FILTERS.get, key="map_filter"
    )
    true_c = b.selectbox("True class", options, format_func=fmt, key="map_true")
    pred_c = c.selectbox("Predicted class", options, format_func=fmt, key="map_pred")
    return feature_map.filter_points(
        probs,
        labels,
        kind=kind,
        true_class=None if true_c == ANY else true_c,
        predicted_class=None if pred_c == ANY else pred_c,
    )


def selected_images(name: str, probs: np.ndarray, labels: np.ndarray) -> None:
    selected = st.session_state.get(SELECTION_KEY) or []
    if not selected:
        st.info(
            "Nothing selected yet: click a dot, or pick the lasso in the chart's toolbar "
            "and draw round a group of dots.",
            icon=":material/gesture:",
        )
        return
    head, clear = st.columns([4, 1], vertical_alignment="bottom")
    n = len(selected)
    head.subheader(f"{n:,} selected image{'s' * (n != 1)}")
    clear.button("Clear the selection", on_click=_clear_selection, key="map_clear")
    shown = feature_map.mistakes_first(np.asarray(selected), probs, labels)[:MAX_SHOWN]
    wrong = int((probs[selected].argmax(axis=1) != labels[selected]).sum())
    st.caption(
        f"{wrong:,} of them mistakes. Mistakes first (the most confident wrong answer "
        "first), then the rest"
        + (f"; showing {MAX_SHOWN}, draw a smaller lasso to see others." if n > MAX_SHOWN else ".")
    )
    # The Mistakes explorer's tiles and detail dialog, for this page's selection.
    detail.show_open(SCOPE, name, probs, labels)
    detail.grid(SCOPE, shown, probs, labels, button_key="map-inspect")


def your_image(name: str, test_map: feature_map.TestMap) -> feature_map.Placement | None:
    """Upload or sketch an image; show where it lands and its nearest test images."""
    st.subheader("Where does your image land?")
    st.caption(
        "Your image goes through the same steps as on the Classify page, then the model "
        f"computes its features. t-SNE cannot place a new point by itself, so it is put at "
        f"the **average position of its {feature_map.K_NEIGHBOURS} nearest test images in the "
        "model's feature space** (the neighbours are exact; the star is their mean)."
    )
    upload_tab, sketch_tab = st.tabs([":material/photo_camera: Upload", ":material/draw: Sketch"])
    with upload_tab:
        file = st.file_uploader(
            "A photo of one garment", type=list(uploads.FILE_EXTENSIONS), key="map_upload"
        )
        prepared = None
        if file is not None:
            try:
                prepared = preprocess.photo(file.getvalue())
            except preprocess.InputError as exc:
                st.error(f"This file cannot be used: {exc}")
    with sketch_tab:
        sketched = _sketch()
    prepared = prepared or sketched
    if prepared is None:
        return None
    result = state.predict(name, prepared.image)
    features = feature_map.penultimate(state.classifier(name), prepared.image)
    placement = feature_map.place(features[0], test_features(name), test_map.xy)
    labels = state.labels_of_test_set()
    near = labels[placement.neighbours]
    counts = np.bincount(near, minlength=NUM_CLASSES)
    among = ", ".join(f"{counts[c]} {CLASS_NAMES[c]}" for c in np.argsort(-counts) if counts[c])
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.image(enlarge(prepared.image, 4), caption="What the model sees (28×28)", width="stretch")
    with right:
        st.markdown(f"**Prediction: {result.class_name}** ({result.confidence:.0%})")
        st.markdown(f"**Your image lands here** (★ on the map), among: {among}.")
        if result.not_garment:
            st.warning("This does not look like a garment to the model.", icon=":material/warning:")
    thumbs = state.thumbnails_of_test_set(tuple(int(i) for i in placement.neighbours))
    st.caption("Its nearest test images, nearest first (the ringed dots on the map):")
    for start in range(0, len(placement.neighbours), 5):  # row by row: reading order
        row = st.columns(5)
        for col, k in zip(row, range(start, min(start + 5, len(placement.neighbours)))):
            i = int(placement.neighbours[k])
            col.image(thumbs[k], caption=f"#{i} · {CLASS_NAMES[labels[i]]}", width="stretch")
    return placement


def _sketch() -> preprocess.Prepared | None:
    st.caption("Draw one garment as a solid shape (the dataset's images are silhouettes).")
    drawing = garment_canvas("map_canvas", CANVAS_SIZE, stroke_width=18)
    if drawing is None:
        return None
    try:
        return preprocess.sketch(drawing.rgba)
    except preprocess.InputError as exc:
        st.warning(str(exc))
        return None


if __name__ == "__main__":
    render()
