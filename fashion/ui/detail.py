"""Test images as clickable thumbnails, and one of them in detail: the same view on every
page that lists test images (Mistakes explorer, Confusion matrix).

The detail opens in a dialog (`st.dialog`), over the page wherever it was scrolled to:
drawn above a long grid instead, it appeared ~700 px above the viewport and a click on a
lower row seemed to do nothing. The tile last inspected stays highlighted, so after
closing the dialog the eye finds its place again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from fashion.analysis import charts
from fashion.classes import CLASS_NAMES
from fashion.data import preprocess
from fashion.trust import explain
from fashion.ui import state
from fashion.ui.images import enlarge, png_data_url

TILE_PX = 104  # a thumbnail tile: three fit a phone's width (390 px), eight a laptop's
DETAIL_PX = 168


def open_detail(scope: str, index: int) -> None:
    """Open test image `index` in the detail dialog on the page's next run."""
    st.session_state[f"{scope}-open"] = index
    st.session_state[f"{scope}-last"] = index


def _closed(scope: str) -> None:
    st.session_state.pop(f"{scope}-open", None)


def grid(
    scope: str, indices: Sequence[int], probs: np.ndarray, labels: np.ndarray, button_key: str
) -> None:
    """A wrapping row of test-image tiles: thumbnail, Inspect button, what the model said.

    Args:
        scope: the page's name; keeps each page's open dialog and highlight its own.
        indices: test indices to show, in order.
        probs, labels: (10000, 10) probabilities and (10000,) labels of the test set.
        button_key: prefix of the buttons' keys (`{button_key}-{index}`).
    """
    indices = [int(i) for i in indices]
    if not indices:
        return
    thumbs = state.thumbnails_of_test_set(tuple(indices))
    pred = probs.argmax(axis=1)
    last = st.session_state.get(f"{scope}-last")
    with st.container(horizontal=True, gap="small"):
        for k, i in enumerate(indices):
            chosen = i == last
            with st.container(width=TILE_PX, gap="xxsmall", border=chosen):
                st.image(png_data_url(thumbs[k]), width="stretch")
                # Button before the caption: captions wrap to 2-3 lines, buttons stay aligned.
                st.button(
                    "Inspect",
                    key=f"{button_key}-{i}",
                    on_click=open_detail,
                    args=(scope, i),
                    type="primary" if chosen else "secondary",
                    width="stretch",
                )
                said = f"said {CLASS_NAMES[pred[i]]} {probs[i, pred[i]]:.0%}"
                st.caption(f"#{i} · true **{CLASS_NAMES[labels[i]]}**  \n{said}")


def show_open(scope: str, name: str, probs: np.ndarray, labels: np.ndarray) -> None:
    """Open the detail dialog if a tile's Inspect was pressed (call once per page run)."""
    index = st.session_state.get(f"{scope}-open")
    if index is not None:
        _detail(scope, name, int(index), probs, labels)


def _dismissed() -> None:
    for key in [k for k in st.session_state if str(k).endswith("-open")]:
        st.session_state.pop(key, None)


@st.dialog("What the model saw", width="large", on_dismiss=_dismissed)
def _detail(scope: str, name: str, i: int, probs: np.ndarray, labels: np.ndarray) -> None:
    pred, true = int(probs[i].argmax()), int(labels[i])
    st.subheader(f"Test image #{i}")
    verdict = "right" if pred == true else "wrong"
    st.markdown(
        f"True class **{CLASS_NAMES[true]}**; {name} says **{CLASS_NAMES[pred]}** "
        f"({probs[i, pred]:.1%}): {verdict}."
    )
    image = preprocess.dataset_image(state.dataset().test.images[i]).image
    sal = state.saliency(name, image, pred)
    pictures, chart = st.columns([1, 1.1], vertical_alignment="center")
    with pictures, st.container(horizontal=True, gap="small"):
        st.image(
            png_data_url(enlarge(image, 6)), caption=f"True: {CLASS_NAMES[true]}", width=DETAIL_PX
        )
        st.image(
            png_data_url(explain.overlay(image, sal, scale=6)),
            caption=f"What made it say {CLASS_NAMES[pred]}",
            width=DETAIL_PX,
        )
    with chart:
        st.plotly_chart(
            charts.probability_bars(probs[i], true),
            key=f"{scope}-detail-chart",
            config={"displayModeBar": False},
        )
