"""Dataset page: what Fashion-MNIST looks like and where this copy was loaded from."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion import charts
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.ui import state
from fashion.ui.images import montage

PER_CLASS = 12


def render() -> None:
    st.title("The dataset")
    with state.friendly_errors("the dataset"):
        ds = state.dataset()
        st.markdown(
            f"**Source:** {ds.source}  \n"
            f"{len(ds.train):,} training and {len(ds.test):,} test images, 28×28 grayscale, "
            f"{NUM_CLASSES} classes; every file verified against the official SHA-256."
        )
        st.subheader("Images per class")
        train_counts = np.bincount(ds.train.labels, minlength=NUM_CLASSES)
        test_counts = np.bincount(ds.test.labels, minlength=NUM_CLASSES)
        st.plotly_chart(charts.class_distribution(train_counts, test_counts), key="distribution")
        st.subheader("Samples of each class")
        seed_col, _ = st.columns([1, 3])
        seed = seed_col.number_input("Shuffle (seed)", 0, 10_000, 0, key="dataset_seed")
        strips = sample_strips(int(seed))
        for k, strip in enumerate(strips):
            label, images = st.columns([1, 6], vertical_alignment="center")
            label.markdown(f"**{CLASS_NAMES[k]}**")
            images.image(strip, width="stretch")


@st.cache_data(show_spinner=False, max_entries=16)
def sample_strips(seed: int) -> list[np.ndarray]:
    """One montage row per class: PER_CLASS random training images of it."""
    train = state.dataset().train
    rng = np.random.default_rng(seed)
    return [
        montage(
            train.images[rng.choice(np.flatnonzero(train.labels == k), PER_CLASS, replace=False)],
            ncols=PER_CLASS,
            factor=2,
        )
        for k in range(NUM_CLASSES)
    ]


if __name__ == "__main__":
    render()
