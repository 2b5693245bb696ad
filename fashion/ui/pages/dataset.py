"""Dataset page: what Fashion-MNIST looks like and where this copy was loaded from."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.ui import state
from fashion.ui.images import enlarge, montage, png_data_url

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
        train_counts = np.bincount(ds.train.labels, minlength=NUM_CLASSES)
        test_counts = np.bincount(ds.test.labels, minlength=NUM_CLASSES)
        st.markdown(per_class_counts(train_counts, test_counts))
        st.subheader("The average image of each class")
        st.caption(
            "Every training image of the class, averaged pixel by pixel: the shape the model "
            "can count on. Blurry where the class varies (bags, sandals), sharp where it "
            "does not (trousers). Below each: the share of the 28×28 frame it covers."
        )
        means, cover = class_means()
        with st.container(horizontal=True, gap="xsmall"):  # ten abreast on a laptop
            for k in range(NUM_CLASSES):
                st.image(
                    png_data_url(enlarge(means[k], 4)),
                    caption=f"{CLASS_NAMES[k]} · {cover[k]:.0%}",
                    width=84,
                )
        st.subheader("Samples of each class")
        seed_col, _ = st.columns([1, 3])
        seed = seed_col.number_input(
            "Shuffle (seed)", 0, 10_000, 0, key="dataset_seed", persist_state="session"
        )
        strips = sample_strips(int(seed))
        for k, strip in enumerate(strips):
            label, images = st.columns([1, 6], vertical_alignment="center")
            label.markdown(f"**{CLASS_NAMES[k]}**")
            images.image(strip, width="stretch")


def per_class_counts(train_counts: np.ndarray, test_counts: np.ndarray) -> str:
    """One sentence for the images per class (the dataset is balanced: ten equal bars said
    no more than this)."""
    if len(set(train_counts)) == 1 and len(set(test_counts)) == 1:
        return (
            f"**Balanced:** every class has {int(train_counts[0]):,} training and "
            f"{int(test_counts[0]):,} test images."
        )
    return "**Images per class** (train / test): " + ", ".join(
        f"{CLASS_NAMES[k]} {int(a):,} / {int(b):,}"
        for k, (a, b) in enumerate(zip(train_counts, test_counts, strict=True))
    )


@st.cache_data(show_spinner=False)
def class_means() -> tuple[np.ndarray, np.ndarray]:
    """(10, 28, 28) mean training image per class in [0, 1], and (10,) the share of the
    frame each class covers (mean image above 20 % brightness)."""
    train = state.dataset().train
    means = np.stack(
        [train.images[train.labels == k].mean(axis=0) / 255.0 for k in range(NUM_CLASSES)]
    )
    return means, (means > 0.2).mean(axis=(1, 2))


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
