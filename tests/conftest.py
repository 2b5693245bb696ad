"""Shared fixtures: the real dataset and the real shipped models, loaded once per run."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from fashion import card  # noqa: E402
from fashion.data import official  # noqa: E402
from fashion.serving.classifier import Classifier  # noqa: E402


@pytest.fixture(scope="session")
def dataset() -> official.Dataset:
    return official.load()


@pytest.fixture(scope="session")
def test_split(dataset) -> official.Split:
    return dataset.test


@pytest.fixture(scope="session")
def shipped_cards() -> list[card.ModelCard]:
    cards = card.shipped()
    assert cards, "no shipped models in assets/models"
    return cards


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """The default (best shipped) model."""
    return Classifier.load()
