"""Model vs model: two models on the same 10,000 test images, where they disagree and who
is right."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.analysis import charts, disagreement
from fashion.classes import CLASS_NAMES
from fashion.ui import state
from fashion.ui.detail import TILE_PX
from fashion.ui.images import enlarge, png_data_url

MAX_SHOWN = 30
INSPECT_KEY = "compare_selected"  # the test index whose two answers are open in the dialog
LAST_KEY = "compare_last"  # the tile inspected last: highlighted, as on the other pages


def render() -> None:
    st.title("Model vs model")
    names = [c.name for c in state.model_cards()] + [m.name for m in state.session_models()]
    if len(names) < 2:
        st.info("Comparing needs two models; only one is available.")
        return
    with state.friendly_errors("the comparison"):
        show(names)


def _inspect(index: int) -> None:
    st.session_state[INSPECT_KEY] = index
    st.session_state[LAST_KEY] = index


def _closed() -> None:
    st.session_state.pop(INSPECT_KEY, None)


def _reset() -> None:
    st.session_state.pop(INSPECT_KEY, None)
    st.session_state.pop(LAST_KEY, None)


def show(names: list[str]) -> None:
    current = state.current_model()
    st.session_state.setdefault("compare_a", current if current in names else names[0])
    st.session_state.setdefault(
        "compare_b", next(n for n in names if n != st.session_state["compare_a"])
    )
    left, right = st.columns(2)
    a = left.selectbox("Model A", names, key="compare_a", on_change=_reset)
    b = right.selectbox("Model B", names, key="compare_b", on_change=_reset)
    if a == b:
        st.info("Pick two different models.")
        return
    probs_a, probs_b = state.probabilities_on_test_set(a), state.probabilities_on_test_set(b)
    labels = state.labels_of_test_set()
    comp = disagreement.compare(probs_a, probs_b, labels)
    acc_a, acc_b = (probs_a.argmax(1) == labels).mean(), (probs_b.argmax(1) == labels).mean()
    cols = st.columns(4)
    cols[0].metric("Both right", f"{len(comp.both_right):,}")
    cols[1].metric(f"Only {a} right", f"{len(comp.only_a):,}")
    cols[2].metric(f"Only {b} right", f"{len(comp.only_b):,}")
    both_wrong = len(comp.both_wrong_same) + len(comp.both_wrong_differently)
    cols[3].metric("Both wrong", f"{both_wrong:,}")
    st.caption(
        f"On the official 10,000 test images **{a}** scores {acc_a:.2%} and **{b}** "
        f"{acc_b:.2%}; they give different answers on **{comp.disagreements:,}** images. "
        "Accuracy alone hides this: the gap between them is the difference of the two "
        "middle numbers, not the number of images they disagree on."
    )
    st.plotly_chart(
        charts.disagreement_bars(
            disagreement.per_class(comp.only_a, labels),
            disagreement.per_class(comp.only_b, labels),
            a,
            b,
        ),
        key="compare_bars",
        config={"displayModeBar": False},
    )
    groups = {
        "only_a": f"Only {a} right",
        "only_b": f"Only {b} right",
        "both_wrong_differently": disagreement.GROUPS["both_wrong_differently"].capitalize(),
        "both_wrong_same": disagreement.GROUPS["both_wrong_same"].capitalize(),
    }
    group = st.segmented_control(
        "Images", list(groups), format_func=groups.get, default="only_a", key="compare_group",
        on_change=_reset,
    )  # fmt: skip
    idx = comp.group(group or "only_a")
    st.caption(
        f"**{len(idx):,}** images"
        + (
            f" (the first {MAX_SHOWN}, the loser's most confident mistakes first)"
            if len(idx) > MAX_SHOWN
            else ""
        )  # fmt: skip
    )
    inspected = st.session_state.get(INSPECT_KEY)
    if inspected is not None:
        detail(int(inspected), a, b, probs_a, probs_b, labels)
    _tiles([int(i) for i in idx[:MAX_SHOWN]], labels, probs_a.argmax(1), probs_b.argmax(1))


def _tiles(shown: list[int], labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> None:
    """The images of the chosen group, each with both answers and an Inspect button."""
    thumbs = state.thumbnails_of_test_set(tuple(shown))
    last = st.session_state.get(LAST_KEY)
    # The tiles of the other pages (fashion.ui.detail): they wrap, three to a phone's row.
    with st.container(horizontal=True, gap="small"):
        for k, i in enumerate(shown):
            with st.container(width=TILE_PX, gap="xxsmall", border=i == last):
                st.image(png_data_url(thumbs[k]), width="stretch")
                st.button(
                    "Inspect",
                    key=f"cmp-{i}",
                    on_click=_inspect,
                    args=(i,),
                    type="primary" if i == last else "secondary",
                    width="stretch",
                )
                st.caption(
                    f"#{i} · true **{CLASS_NAMES[labels[i]]}**  \n"
                    f"A: {_answer(pred_a[i], labels[i])}  \nB: {_answer(pred_b[i], labels[i])}"
                )


def _answer(pred: int, label: int) -> str:
    return f"{CLASS_NAMES[pred]} {'✓' if pred == label else '✗'}"


@st.dialog("One test image, two models", width="large", on_dismiss=_closed)
def detail(
    i: int, a: str, b: str, probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray
) -> None:
    st.subheader(f"Test image #{i}")
    image = state.dataset().test.images[i]
    st.image(png_data_url(enlarge(image, 6)), caption=f"True: {CLASS_NAMES[labels[i]]}")
    left, right = st.columns(2)
    for col, name, probs, key in ((left, a, probs_a, "cmp-a"), (right, b, probs_b, "cmp-b")):
        col.plotly_chart(
            charts.probability_bars(probs[i], int(labels[i]), title=name),
            key=key,
            config={"displayModeBar": False},
        )


if __name__ == "__main__":
    render()
