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
        seed = st.number_input("Shuffle (seed)", 0, 10_000, 0, key="dataset_seed")
        st.image(sample_grid(int(seed)), caption="Rows, top to bottom: " + ", ".join(CLASS_NAMES))


@st.cache_data(show_spinner=False, max_entries=16)
def sample_grid(seed: int) -> np.ndarray:
    """One montage: PER_CLASS random training images of each class, one class per row."""
    train = state.dataset().train
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(train.labels == k), PER_CLASS, replace=False)
        for k in range(NUM_CLASSES)
    ]
    return montage(train.images[np.concatenate(picks)], ncols=PER_CLASS, factor=2)


if __name__ == "__main__":
    render()
