"""Evaluate a model on the official 10k test set: the figures its card and the CLI report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion.analysis import metrics
from fashion.data import official
from fashion.serving.classifier import Classifier


def evaluation_report(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-class accuracy and confusion matrix as JSON-ready values."""
    pred = probs.argmax(axis=1)
    cm = metrics.confusion_matrix(labels, pred)
    return {
        "test_accuracy": round(metrics.accuracy(labels, pred), 6),
        "per_class_accuracy": [round(float(a), 6) for a in metrics.per_class_accuracy(cm)],
        "confusion_matrix": cm.tolist(),
    }


def evaluate_classifier(clf: Classifier) -> dict:
    test = official.test_set()
    probs = clf.predict_proba(test.as_float())
    return {"model": clf.name, "n_params": clf.n_params} | evaluation_report(probs, test.labels)


def evaluate_file(model_path: str | Path, views: str | None = None) -> dict:
    """Figures for a saved model file (the card fields `train` writes), with the test-time
    `views` given (default: those of the card next to the file)."""
    clf = Classifier(model_path)
    if views is not None:
        clf.views = views
    report = evaluate_classifier(clf)
    report.pop("model")
    return report
