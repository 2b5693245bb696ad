"""Classification metrics as pure numpy functions (labels are ints 0..9)."""

from __future__ import annotations

import numpy as np

from fashion.classes import NUM_CLASSES
from fashion.trust import label_errors


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; rows are the true label, columns the prediction."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class: the diagonal over the row sums (0 for an empty row)."""
    rows = cm.sum(axis=1)
    return np.divide(np.diag(cm), rows, out=np.zeros(len(cm)), where=rows > 0)


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def normalize_rows(cm: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix as fractions of its true class (empty rows stay 0)."""
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)


def mistakes(
    probs: np.ndarray,
    labels: np.ndarray,
    true_class: int | None = None,
    predicted_class: int | None = None,
    order: str = "confident",
) -> np.ndarray:
    """Indices of misclassified samples, optionally filtered, in the requested order.

    Args:
        probs: (N, 10) class probabilities.
        labels: (N,) true labels.
        true_class / predicted_class: keep only mistakes with this true / predicted label.
        order: "confident" (highest probability of the wrong answer first),
            "true-low" (lowest probability of the true label first), "label-error"
            (only the candidates `label_errors.label_error_ranking` finds, in its order)
            or "index".
    """
    pred = probs.argmax(axis=1)
    keep = pred != labels
    if true_class is not None:
        keep &= labels == true_class
    if predicted_class is not None:
        keep &= pred == predicted_class
    idx = np.flatnonzero(keep)
    if order == "confident":
        key = -probs[idx, pred[idx]]
    elif order == "true-low":
        key = probs[idx, labels[idx]]
    elif order == "index":
        return idx
    elif order == "label-error":
        ranked = label_errors.label_error_ranking(probs, labels)
        return ranked[np.isin(ranked, idx)]
    else:
        raise ValueError(f"unknown order {order!r}")
    return idx[np.argsort(key, kind="stable")]


def smoothed_loss_floor(epsilon: float, num_classes: int = NUM_CLASSES) -> float:
    """The lowest cross-entropy any model can reach against label-smoothed targets.

    With label smoothing the target of an image is 1 - epsilon + epsilon / K on its class
    and epsilon / K on each other class; cross-entropy is smallest when the model predicts
    exactly that, and then equals the targets' own entropy. 0 without smoothing; 0.50
    for epsilon 0.1 and 10 classes, which is why such a model's loss curve sits higher.
    """
    if epsilon <= 0:
        return 0.0
    rest = epsilon / num_classes
    top = 1.0 - epsilon + rest
    return float(-top * np.log(top) - (num_classes - 1) * rest * np.log(rest))
