"""The Classify page's Test sample tab: any of the 10,000 test images, by index or class."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.classes import CLASS_NAMES
from fashion.data import preprocess
from fashion.ui import links, state
from fashion.ui.prediction import show_prediction

SAMPLE_KEY = "sample_index"


SAMPLE_STORE = "classify_sample"


SAMPLE_NOTE = "classify_sample_note"  # a message for the next run (index out of range)


CLASS_KEY = "sample_class"


def set_sample(value: object) -> None:
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
    set_sample(st.session_state.get(SAMPLE_KEY, 0))


def _random_sample(class_label: int | None = None) -> None:
    labels = state.labels_of_test_set()
    pool = np.arange(len(labels)) if class_label is None else np.flatnonzero(labels == class_label)
    set_sample(int(np.random.default_rng().choice(pool)))


def _class_changed() -> None:
    """Choosing a class shows one of its images at once."""
    _random_sample(int(st.session_state[CLASS_KEY]))


def sample_tab(name: str) -> None:
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
