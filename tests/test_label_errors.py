"""Possible label errors: the ranking's rules on a hand-made case, and on the real test set
with the best shipped model."""

from __future__ import annotations

import numpy as np

from fashion.trust import label_errors


def test_ranking_by_hand():
    probs = np.array(
        [
            [0.95, 0.05, 0.0],  # label 0, predicted 0: no error
            [0.97, 0.03, 0.0],  # label 1, p(label) 0.03, very sure of 0
            [0.02, 0.0, 0.98],  # label 0, p(label) 0.02: most suspicious
            [0.5, 0.0, 0.5],  # label 1, p(label) 0, but not confident: skipped
            [0.0, 0.91, 0.09],  # label 2, p(label) 0.09, 0.91 elsewhere
        ]
    )
    labels = np.array([0, 1, 0, 1, 2])
    assert label_errors.label_error_ranking(probs, labels).tolist() == [2, 1, 4]
    assert label_errors.label_error_ranking(probs, labels, min_confidence=0.96).tolist() == [2, 1]
    assert "dataset" in label_errors.NOTE


def test_top_candidates_on_the_test_set(classifier, test_split):
    probs = classifier.predict_proba(test_split.as_float())
    labels = test_split.labels.astype(np.int64)
    ranking = label_errors.label_error_ranking(probs, labels)
    # Dozens of candidates on 10k images, but far fewer than the model's mistakes.
    mistakes = np.sum(probs.argmax(1) != labels)
    assert 10 <= len(ranking) < mistakes
    top = ranking[:20]
    p_label = probs[top, labels[top]]
    p_other = probs[top].max(axis=1)
    assert np.all(p_label < 0.01), p_label
    assert np.all(p_other >= label_errors.MIN_CONFIDENCE)
    assert np.all(probs[top].argmax(1) != labels[top])
    # The most suspicious come first.
    assert np.all(np.diff(probs[ranking, labels[ranking]]) >= 0)
