"""The Classify page's Examples tab: clickable examples, one already answered."""

from __future__ import annotations

import streamlit as st

from fashion.data import examples, preprocess
from fashion.ui import links, state
from fashion.ui.images import png_data_url
from fashion.ui.prediction import show_prediction

EXAMPLE_PX = 82  # an example tile: four fit a phone's width (390 px), eight a laptop's


EXAMPLE_STORE = "classify_example"


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
