"""Classify page: an example, photos, the camera, a sketch or a test image -> the prediction.

The page opens on an example already classified, so there is an answer before the first
click. Each input mode is a tab; only the open tab runs. What the user chose (mode,
example, uploads, camera photo, test image) is kept in session state under keys no
widget owns, so it is still there after a visit to another page, and the mode, example
and test image are in the URL (fashion.ui.links), so a link opens the same view.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.classes import CLASS_NAMES
from fashion.data import examples, preprocess, uploads
from fashion.serving import share
from fashion.ui import links, state
from fashion.ui.canvas import garment_canvas
from fashion.ui.images import enlarge, png_data_url
from fashion.ui.prediction import show_prediction

CANVAS_SIZE = 280  # 10 canvas pixels per model pixel
MAX_FILES = 48  # per batch: a grid of results, not an archive job
CAMERA_PX = 480  # the preview: full width on a laptop pushed the answer off the screen
EXAMPLE_PX = 82  # an example tile: four fit a phone's width (390 px), eight a laptop's

# Input modes: the key (in the URL) -> the tab's label.
MODES = {
    "examples": ":material/auto_awesome: Examples",
    "upload": ":material/upload: Upload",
    "camera": ":material/photo_camera: Camera",
    "sketch": ":material/draw: Sketch",
    "sample": ":material/casino: Test sample",
}
# session_state keys. The *_KEY ones belong to widgets (Streamlit drops them when the
# widget is not drawn, e.g. on another page); the stores keep the user's choice.
TABS_KEY = "classify_tabs"
MODE_STORE = "classify_mode"
EXAMPLE_STORE = "classify_example"
UPLOADS_STORE = "classify_uploads"  # [(file name, bytes)] of the last upload
CAMERA_STORE = "classify_camera"  # bytes of the last camera photo
SAMPLE_KEY = "sample_index"
SAMPLE_STORE = "classify_sample"
SAMPLE_NOTE = "classify_sample_note"  # a message for the next run (index out of range)
CLASS_KEY = "sample_class"
DETAIL_KEY = "upload_detail"


def render() -> None:
    st.title("What's this garment?")
    st.caption(
        "A classifier trained on Fashion-MNIST: 70,000 28×28 grayscale images of ten kinds "
        "of clothing. Try an example, upload photos, take one, draw one, or pick one of "
        "the 10,000 test images."
    )
    name = state.current_model()
    if name is None:
        st.error("No trained model is available, so nothing can be classified yet.")
        return
    _follow_link()
    mode = _mode_tabs()
    links.page_params(mode=mode)


def _follow_link() -> None:
    """Seed the stores from the URL the session was opened with (once)."""
    example, sample, mode = (
        links.take(links.EXAMPLE),
        links.take(links.SAMPLE),
        links.take(links.MODE),
    )
    if example is not None:
        st.session_state[EXAMPLE_STORE] = example  # checked against the offer when drawn
        mode = mode or "examples"
    if sample is not None:
        _set_sample(sample)
        mode = mode or "sample"
    if mode in MODES:
        st.session_state[MODE_STORE] = mode
        st.session_state[TABS_KEY] = MODES[mode]


def _mode_tabs() -> str:
    """The input tabs; runs the open one and returns its mode."""
    mode = st.session_state.get(MODE_STORE, "examples")
    if TABS_KEY not in st.session_state:  # first visit, or back from another page
        st.session_state[TABS_KEY] = MODES.get(mode, MODES["examples"])
    # on_change="rerun": the tabs report which one is open, so only that one runs.
    tabs = st.tabs(list(MODES.values()), key=TABS_KEY, on_change="rerun")
    by_label = {label: key for key, label in MODES.items()}
    mode = by_label.get(st.session_state.get(TABS_KEY), "examples")
    st.session_state[MODE_STORE] = mode
    runs = {
        "examples": example_tab,
        "upload": upload_tab,
        "camera": camera_tab,
        "sketch": sketch,
        "sample": test_sample,
    }
    for key, tab in zip(MODES, tabs, strict=True):
        if tab.open or (tab.open is None and key == mode):
            with tab:
                runs[key](state.current_model())
    return mode


# --------------------------------------------------------------------------- examples


@st.cache_data(show_spinner=False)
def _gallery(with_test_images: bool) -> list[tuple[examples.Example, str]]:
    """The examples offered and their thumbnails (data: URLs), made once per process."""
    test = state.dataset().test if with_test_images else None
    return [(ex, png_data_url(examples.thumbnail(ex, test))) for ex in examples.examples(test)]


@st.cache_data(show_spinner=False, max_entries=64)
def _example_input(key: str, _example: examples.Example, _test) -> preprocess.Prepared:
    """`examples.prepare`, once per example and process: every first visit shows one."""
    return examples.prepare(_example, _test)


def _test_split_or_none():
    try:
        return state.dataset().test
    except Exception:  # noqa: BLE001 - the examples the project draws still work
        return None


def _pick_example(key: str) -> None:
    st.session_state[EXAMPLE_STORE] = key


def example_tab(name: str) -> None:
    with state.friendly_errors("the examples"):
        test = _test_split_or_none()
        if test is None:
            st.warning(
                "The Fashion-MNIST dataset is not available, so only the examples drawn "
                "by this project are offered (no test images, no photos made from them).",
                icon=":material/dataset:",
            )
        gallery = _gallery(test is not None)
        keys = [ex.key for ex, _ in gallery]
        if st.session_state.get(EXAMPLE_STORE) not in keys:
            st.session_state[EXAMPLE_STORE] = keys[0]
        chosen_key = st.session_state[EXAMPLE_STORE]
        st.markdown("**Pick an example**, or bring your own in the next tabs.")
        # Small tiles in a row that wraps: eight abreast on a laptop, four on a phone, so
        # the answer below is on the first screen.
        with st.container(horizontal=True, gap="xsmall"):
            for ex, thumb in gallery:
                with st.container(width=EXAMPLE_PX, gap="xxsmall", horizontal_alignment="center"):
                    st.image(thumb, width="stretch")
                    st.button(
                        ex.label,
                        key=f"example-{ex.key}",
                        help=ex.title,
                        type="primary" if ex.key == chosen_key else "secondary",
                        on_click=_pick_example,
                        args=(ex.key,),
                        width="stretch",
                    )
        chosen = next(ex for ex, _ in gallery if ex.key == chosen_key)
        links.page_params(example=chosen.key)
        prepared = _example_input(chosen.key, chosen, test)
        true_label = int(test.labels[chosen.test_index]) if chosen.kind == examples.TEST else None
        original = chosen.data if chosen.kind != examples.TEST else None
        show_prediction(
            prepared,
            name,
            true_label=true_label,
            key="example",
            original=original,
            input_caption=chosen.title,
            download_name=chosen.key,
        )


# ----------------------------------------------------------------------- photo inputs


def _remember_uploads() -> None:
    files = st.session_state.get("upload") or []
    st.session_state[UPLOADS_STORE] = [(f.name, f.getvalue()) for f in files[:MAX_FILES]]


def _forget(store: str) -> None:
    st.session_state.pop(store, None)


def upload_tab(name: str) -> None:
    with state.friendly_errors("the upload"):
        files = st.file_uploader(
            "Photos of garments, one garment per photo (several at once are fine)",
            type=list(uploads.FILE_EXTENSIONS),
            accept_multiple_files=True,
            key="upload",
            on_change=_remember_uploads,
            help="Each photo is trimmed, centred, turned grayscale and shrunk to 28×28 like "
            "the dataset's images. Product photos on a plain background work best.",
        )
        if files:
            items = [(f.name, f.getvalue()) for f in files[:MAX_FILES]]
            if len(files) > MAX_FILES:
                st.warning(f"Only the first {MAX_FILES} files are classified.")
        else:  # nothing in the widget: what was uploaded before a visit to another page
            items = st.session_state.get(UPLOADS_STORE) or []
            if items:
                with st.container(horizontal=True, vertical_alignment="center"):
                    st.caption(
                        "Your last upload: "
                        + ", ".join(n for n, _ in items[:3])
                        + ("…" if len(items) > 3 else "")
                    )
                    st.button(
                        "Forget it",
                        key="forget_upload",
                        on_click=_forget,
                        args=(UPLOADS_STORE,),
                        type="tertiary",
                        icon=":material/close:",
                    )
        if not items:
            st.info(
                "Drop photos above: a shoe, a bag, a shirt… (PNG, JPEG, WebP, BMP or GIF). "
                "No photo at hand? The Examples tab has some."
            )
            return
        if len(items) == 1:
            single_photo(name, *items[0], key="upload")
        else:
            batch(name, items)


def single_photo(name: str, file_name: str, data: bytes, key: str) -> None:
    try:
        prepared = preprocess.photo(data)
    except preprocess.InputError as exc:
        st.error(f"This file cannot be used: {exc}")
        return
    stem = file_name.rsplit(".", 1)[0] or key
    show_prediction(prepared, name, key=key, original=data, download_name=stem)


def batch(name: str, items: list[tuple[str, bytes]]) -> None:
    """Several photos: a grid of answers, a CSV of all of them, and one in detail."""
    prepared: dict[int, preprocess.Prepared] = {}
    errors: dict[int, str] = {}
    for i, (_, data) in enumerate(items):
        try:
            prepared[i] = preprocess.photo(data)
        except preprocess.InputError as exc:
            errors[i] = str(exc)
    order = sorted(prepared)
    results = {}
    if order:
        batch_images = np.stack([prepared[i].image for i in order])  # (N, 28, 28)
        results = dict(zip(order, state.classifier(name).predict_many(batch_images), strict=True))
    st.subheader(
        f"{len(items)} photos: {len(results)} classified"
        + (f", {len(errors)} unusable" if errors else "")
    )
    rows = [(file_name, results.get(i), errors.get(i)) for i, (file_name, _) in enumerate(items)]
    st.download_button(
        "All results (CSV)",
        share.results_csv(rows),
        file_name="fashion-mnist-results.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="batch_csv",
    )
    with st.container(horizontal=True, gap="small"):
        for i, (file_name, _) in enumerate(items):
            with st.container(width=132, gap="xxsmall"):
                if i in results:
                    r = results[i]
                    st.image(png_data_url(enlarge(prepared[i].image, 4)), width=112)
                    mark = " ⚠" if r.not_garment else ""
                    st.caption(f"**{r.class_name}** {r.confidence:.0%}{mark}  \n{file_name}")
                else:
                    st.caption(f":red[Cannot be used]  \n{file_name}")
    usable = [i for i, _ in enumerate(items) if i in results]
    if not usable:
        for i, (file_name, _) in enumerate(items):
            st.error(f"{file_name}: {errors[i]}")
        return
    for i in errors:
        st.caption(f":red[{items[i][0]}]: {errors[i]}")
    pick = st.selectbox(
        "Look at one in detail",
        usable,
        format_func=lambda i: items[i][0],
        key=DETAIL_KEY,
    )
    file_name, data = items[pick]
    stem = file_name.rsplit(".", 1)[0] or "photo"
    show_prediction(prepared[pick], name, key="batch", original=data, download_name=stem)


def _remember_camera() -> None:
    shot = st.session_state.get("camera")
    if shot is None:
        st.session_state.pop(CAMERA_STORE, None)
    else:
        st.session_state[CAMERA_STORE] = shot.getvalue()


def camera_tab(name: str) -> None:
    with state.friendly_errors("the camera"):
        shot = st.camera_input(
            "Take a photo of one garment, on a plain background if you can",
            key="camera",
            on_change=_remember_camera,
            width=CAMERA_PX,
            help="The photo goes through the same steps as an upload. Nothing is stored "
            "beyond your visit.",
        )
        data = shot.getvalue() if shot is not None else st.session_state.get(CAMERA_STORE)
        if data is None:
            st.info("Allow the camera, frame one garment, and press *Take photo*.")
            return
        single_photo(name, "camera.jpg", data, key="camera")


# ----------------------------------------------------------------------------- sketch


@st.fragment
def sketch(name: str) -> None:
    """The canvas and the prediction for what is on it.

    A fragment on purpose: each lifted pen sends the whole drawing and reruns only this
    function (a few tens of ms), not the page. As a full rerun, a stroke drawn while the
    previous stroke's rerun was still going interrupted that rerun, and Streamlit's end
    of an interrupted run deletes the media files of the run before it that the
    interrupted one had not re-sent yet: "What the model sees" went blank and the page
    kept the first stroke's answer until a rerun finally finished. Fragment reruns queue
    instead of interrupting each other, and the result's images are inline (see
    fashion.ui.images), so no rerun can take them away.
    """
    with state.friendly_errors("the sketch"):
        st.caption(
            "Draw one garment as a solid shape filling the box: the dataset's images are "
            "silhouettes of product photos, not outlines, so a wide brush works best. "
            "Undo, redo and clear: the toolbar that appears over the canvas."
        )
        controls, canvas_col = st.columns([1, 2])
        with controls:
            width = st.slider("Stroke width", 4, 40, 32, key="stroke_width")
        with canvas_col:
            # The canvas toolbar floats 2.65rem above the canvas when shown: keep that
            # room empty instead of letting it cover the caption.
            st.space(44)
            drawing = garment_canvas("canvas", CANVAS_SIZE, width)
        if drawing is None:
            st.info("Draw a garment above; the prediction updates each time you lift the pen.")
            return
        try:
            prepared = preprocess.sketch(drawing.rgba)
        except preprocess.InputError as exc:
            st.warning(str(exc))
            return
        # The stroke count says which drawing the answer is for (and lets a test wait for it).
        n = drawing.strokes
        show_prediction(
            prepared,
            name,
            key="sketch",
            input_caption=f"Your drawing ({n} stroke{'s' * (n > 1)})",
            download_name="sketch",
        )


# ------------------------------------------------------------------------ test sample


def _set_sample(value: object) -> None:
    """Store a test index; out of range or not a number -> the nearest valid one and a note."""
    n = len(state.labels_of_test_set())
    try:
        index = int(value)
    except (TypeError, ValueError):
        st.session_state[SAMPLE_NOTE] = f"“{value}” is not a test image number; showing #0."
        index = 0
    if not 0 <= index < n:
        fixed = min(max(index, 0), n - 1)
        st.session_state[SAMPLE_NOTE] = (
            f"There is no test image #{index:,}: the {n:,} test images are numbered 0 to "
            f"{n - 1:,}. Showing #{fixed:,}."
        )
        index = fixed
    st.session_state[SAMPLE_STORE] = index
    st.session_state[SAMPLE_KEY] = index


def _index_changed() -> None:
    _set_sample(st.session_state.get(SAMPLE_KEY, 0))


def _random_sample(class_label: int | None = None) -> None:
    labels = state.labels_of_test_set()
    pool = np.arange(len(labels)) if class_label is None else np.flatnonzero(labels == class_label)
    _set_sample(int(np.random.default_rng().choice(pool)))


def _class_changed() -> None:
    """Choosing a class shows one of its images at once."""
    _random_sample(int(st.session_state[CLASS_KEY]))


def test_sample(name: str) -> None:
    with state.friendly_errors("the test sample"):
        split = state.dataset().test
        labels = state.labels_of_test_set()
        index = int(st.session_state.get(SAMPLE_STORE, 0))
        # The widgets show the stored choice (they forget it on other pages), and the
        # class box always names the class of the image shown.
        st.session_state[SAMPLE_KEY] = index
        st.session_state[CLASS_KEY] = int(labels[index])
        by_index, by_class, of_class, rand = st.columns([2, 2, 1.6, 1], vertical_alignment="bottom")
        by_index.number_input(
            "Test image number",
            min_value=0,
            step=1,
            key=SAMPLE_KEY,
            on_change=_index_changed,
            help=f"0 to {len(split) - 1:,}, in the order of the official test file.",
        )
        by_class.selectbox(
            "Class",
            range(len(CLASS_NAMES)),
            format_func=CLASS_NAMES.__getitem__,
            key=CLASS_KEY,
            on_change=_class_changed,
            help="Pick a class to see one of its test images.",
        )
        of_class.button(
            "Another of this class",
            on_click=lambda: _random_sample(int(st.session_state[CLASS_KEY])),
            key="random_of_class",
            width="stretch",
        )
        rand.button(
            "Random",
            icon=":material/casino:",
            on_click=_random_sample,
            key="random_sample",
            width="stretch",
        )
        note = st.session_state.pop(SAMPLE_NOTE, None)
        if note:
            st.warning(note, icon=":material/info:")
        links.page_params(sample=index)
        prepared = preprocess.dataset_image(split.images[index])
        st.caption(f"Test image #{index} of {len(split):,} (official test split).")
        show_prediction(
            prepared,
            name,
            true_label=int(split.labels[index]),
            key="sample",
            download_name=f"test-{index}",
        )


if __name__ == "__main__":
    render()
