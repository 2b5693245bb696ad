"""The Classify page's photo tabs: uploads (one or many), the camera, and a box to draw
round the garment when a photo's cut-out is wrong.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from fashion.data import preprocess, uploads
from fashion.serving import share
from fashion.ui import state
from fashion.ui.images import enlarge, png_data_url, with_box
from fashion.ui.prediction import show_prediction

MAX_FILES = 48  # per batch: a grid of results, not an archive job


CAMERA_PX = 480  # the preview: full width on a laptop pushed the answer off the screen


BOX_PX = 320  # the photo with its box: fits a phone (390 px)


UPLOADS_STORE = "classify_uploads"  # [(file name, bytes)] of the last upload


CAMERA_STORE = "classify_camera"  # bytes of the last camera photo


DETAIL_KEY = "upload_detail"


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
    """One photo's answer, and a box to put round the garment when the cut-out is wrong."""
    answer = st.container()
    prepared, refused = _try_photo(data, None)
    if prepared is None and not refused.startswith(preprocess.NO_GARMENT):
        # A file that cannot be read as a photo: no box can help.
        answer.error(f"This file cannot be used: {refused}")
        return
    unsure = prepared is None or prepared.unsure
    box = _box_fix(data, key, expanded=unsure)
    if box is not None:
        prepared, refused = _try_photo(data, box)
    with answer:
        if prepared is None:
            st.error(f"This file cannot be used: {refused}")
            return
        if box is not None:
            st.success("Cut out inside your box.", icon=":material/crop_free:")
        elif prepared.unsure:
            st.info(
                "The garment was hard to tell from its background. If the answer is wrong, "
                "put a box round the garment below.",
                icon=":material/crop_free:",
            )
        stem = file_name.rsplit(".", 1)[0] or key
        show_prediction(prepared, name, key=key, original=data, download_name=stem)


@st.cache_data(max_entries=32, show_spinner=False)
def _photo(data: bytes, box: tuple[float, float, float, float] | None) -> preprocess.Prepared:
    """`preprocess.photo`, once per photo and box: every move of a box slider reruns."""
    return preprocess.photo(data, box=box)


def _try_photo(
    data: bytes, box: tuple[float, float, float, float] | None
) -> tuple[preprocess.Prepared | None, str]:
    """(the photo path's result, "") or (None, why the photo was refused)."""
    try:
        return _photo(data, box), ""
    except preprocess.InputError as exc:
        return None, str(exc)


@st.cache_data(max_entries=64, show_spinner=False)
def _box_preview(data: bytes, box: tuple[float, float, float, float]) -> Image.Image:
    """The photo with `box` drawn on it, decoded once per photo and box."""
    return with_box(uploads.decode(data), box, BOX_PX)


def _box_fix(data: bytes, key: str, expanded: bool) -> tuple[float, float, float, float] | None:
    """Two range sliders that put a box round the garment, the photo with that box, and
    a toggle to use it; the box (shares of the photo's sides) while the toggle is on."""
    with st.expander("Wrong cut-out? Put a box round the garment", expanded=expanded,
                     icon=":material/crop_free:"):  # fmt: skip
        st.caption(
            "Slide the edges until the orange box holds the whole garment and as little "
            "of the surface round it as you can, then switch the box on: the cut-out is "
            "redone inside it, and everything outside counts as background."
        )
        sliders, picture = st.columns([1, 1], vertical_alignment="center")
        x = sliders.slider("Left and right edges", 0, 100, (5, 95), format="%d%%",
                           key=f"{key}-box-x")  # fmt: skip
        y = sliders.slider("Top and bottom edges", 0, 100, (5, 95), format="%d%%",
                           key=f"{key}-box-y")  # fmt: skip
        on = sliders.toggle("Cut out inside this box", key=f"{key}-box-on")
        box = (x[0] / 100, y[0] / 100, x[1] / 100, y[1] / 100)
        with state.friendly_errors("the box"):
            picture.image(_box_preview(data, box), width=BOX_PX)
        return box if on and x[1] > x[0] and y[1] > y[0] else None


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
