"""What every page shares: cached loaders, the sidebar model picker, friendly errors.

Models are loaded once per process (`st.cache_resource`: one Classifier object shared
by all sessions; it is thread-safe) and the 10k test-set probabilities are computed
once per model (`st.cache_data`: a plain array every session can copy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import streamlit as st

from fashion import card as cards
from fashion.analysis import test_outputs
from fashion.data import official
from fashion.serving import api, bench
from fashion.serving.classifier import Classifier, Prediction
from fashion.training.jobs import SessionModel
from fashion.trust import confidence, explain

MODEL_KEY = "model_name"  # st.session_state key of the model chosen in the sidebar
# st.session_state key of {name: SessionModel}: models trained in this session on the
# Playground. Every loader below looks there first, so the picker, the Classify and the
# Models pages use them like shipped ones; they stay private to the session and are
# freed with it (never in the process-wide caches).
SESSION_MODELS_KEY = "session_models"
MAX_SESSION_MODELS = 3  # the oldest is dropped beyond this: memory per visitor is bounded


@st.cache_resource(show_spinner="Loading the dataset…")
def dataset() -> official.Dataset:
    """The official dataset (raises official.DatasetError with a how-to-fix message)."""
    return official.load()


@st.cache_resource(show_spinner="Loading the model…")
def _shipped_classifier(name: str) -> Classifier:
    # The HTTP API's instance: one copy of each model per process.
    return api.shared_classifier(name)


def load_shipped(name: str) -> Classifier:
    """Shipped model `name` and its answers on the test set, into the process-wide caches.

    For the server's start (fashion/ui/warmup.py): no session is involved.
    """
    _shipped_test_probabilities(name)
    return _shipped_classifier(name)


def classifier(name: str) -> Classifier:
    """Model `name`: this session's own (Playground) or a shipped one, loaded once."""
    own = session_model(name)
    return own.classifier if own else _shipped_classifier(name)


def session_model(name: str) -> SessionModel | None:
    return st.session_state.get(SESSION_MODELS_KEY, {}).get(name)


def session_models() -> list[SessionModel]:
    """Models trained in this session, oldest first."""
    return list(st.session_state.get(SESSION_MODELS_KEY, {}).values())


def add_session_model(model: SessionModel) -> None:
    """Make a model trained on the Playground usable by every page of this session."""
    own = st.session_state.setdefault(SESSION_MODELS_KEY, {})
    own[model.name] = model
    while len(own) > MAX_SESSION_MODELS:
        own.pop(next(iter(own)))


@st.cache_data(show_spinner=False, ttl=60)
def model_cards() -> list[cards.ModelCard]:
    """Cards of the shipped models, best first (re-read every minute: training may add one)."""
    return cards.shipped()


@st.cache_data(show_spinner="Classifying the 10,000 test images (once per model)…")
def _shipped_test_logits(name: str) -> np.ndarray:
    # Stored beside the model (`python -m fashion precompute`); computed only when the
    # stored answers belong to other weights.
    clf = _shipped_classifier(name)
    path = test_outputs.outputs_path(name, clf.path.parent)
    return test_outputs.stored_logits(clf, dataset().test.as_float(), path)


def logits_on_test_set(name: str) -> np.ndarray:
    """(10000, 10) raw logits of model `name` on the official test set."""
    own = session_model(name)
    return own.test_logits if own else _shipped_test_logits(name)


@st.cache_data(show_spinner=False)
def _shipped_test_probabilities(name: str) -> np.ndarray:
    return _shipped_classifier(name).probabilities(_shipped_test_logits(name))


def probabilities_on_test_set(name: str) -> np.ndarray:
    """(10000, 10) probabilities as the app shows them: calibrated if the card has a T.

    Derived from the cached logits so calibrated and uncalibrated views (the reliability
    diagram needs both) cost one pass over the test set, not two.
    """
    own = session_model(name)
    if own:
        return own.classifier.probabilities(own.test_logits)
    return _shipped_test_probabilities(name)


@st.cache_data(show_spinner=False)
def reliability_on_test_set(name: str) -> dict:
    """Per-confidence-bin counts and accuracy of model `name` on the test set, as shown."""
    return confidence.reliability(probabilities_on_test_set(name), labels_of_test_set())


def predict(name: str, image: np.ndarray) -> Prediction:
    """`Classifier.predict` of the model `name` (loaded once per process)."""
    return classifier(name).predict(image)


@st.cache_data(show_spinner="Working out which pixels mattered…", max_entries=256)
def saliency(name: str, image: np.ndarray, target: int) -> np.ndarray:
    """(28, 28) occlusion-saliency map of `image` for class `target` under model `name`."""
    return explain.occlusion_saliency(classifier(name), image, target=target)


@st.cache_data(show_spinner=False)
def labels_of_test_set() -> np.ndarray:
    return dataset().test.labels.astype(np.int64)


@st.cache_data(show_spinner=False, max_entries=64)
def thumbnails_of_test_set(indices: tuple[int, ...], factor: int = 3) -> np.ndarray:
    """(len(indices), 28 * factor, 28 * factor) uint8 crisp thumbnails of test images."""
    images = dataset().test.images[list(indices)]
    return np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)


def measure_latency(name: str, repeats: int = 30) -> float:
    """Median wall time in milliseconds of one single-image prediction, measured now."""
    images = dataset().test.as_float()[:8]
    return bench.time_per_image(classifier(name).predict, images, repeats)["p50"]


def model_label(card: cards.ModelCard) -> str:
    acc = card.test_accuracy
    return f"{card.name} · {acc:.2%}" if acc is not None else card.name


def model_picker() -> str | None:
    """Sidebar select box of every shipped model; returns the chosen name (None if none).

    The choice lives in st.session_state[MODEL_KEY], so every page sees the same model.
    """
    shipped = model_cards()
    if not shipped:
        st.sidebar.error(
            "No trained model found in assets/models. Train one with "
            "`python -m fashion train flatten-128` (or `make` the shipped ones)."
        )
        return None
    names = [c.name for c in shipped]
    labels = {c.name: model_label(c) for c in shipped}
    for own in session_models():  # trained on the Playground: listed after the shipped
        names.append(own.name)
        labels[own.name] = f"{model_label(own.card)} (yours)"
    if st.session_state.get(MODEL_KEY) not in names:
        st.session_state[MODEL_KEY] = names[0]  # best first: the default model
    st.sidebar.selectbox(
        "Model (test accuracy)",
        names,
        key=MODEL_KEY,
        format_func=labels.get,
        help="Every shipped model with its accuracy on the official 10,000 test images.",
    )
    return st.session_state[MODEL_KEY]


def page_model(title: str) -> str | None:
    """Title the page; the model chosen in the sidebar, or None (and the page says so)."""
    st.title(title)
    name = current_model()
    if name is None:
        st.error("No trained model is available.")
    return name


def current_model() -> str | None:
    return st.session_state.get(MODEL_KEY)


@contextlib.contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show a failure inside this block as st.error and carry on with the rest of the page.

    Streamlit's own rerun/stop signals derive from BaseException and pass through.
    """
    try:
        yield
    except official.DatasetError as exc:
        st.error(f"The Fashion-MNIST dataset is not available, so {what} cannot be shown.\n\n{exc}")
    except FileNotFoundError as exc:
        st.error(f"{what.capitalize()} cannot be shown: {exc}")
    except Exception as exc:  # noqa: BLE001 - the user must never see a traceback
        st.error(f"Something went wrong while showing {what}: {type(exc).__name__}: {exc}")
