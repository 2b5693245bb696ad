"""The map: where a model puts each of the 10,000 test images, drawn in two dimensions.

A model's penultimate-layer features (the D numbers its last layer turns into the ten
logits; `penultimate` takes them from `Classifier.outputs`) place images that look
alike to the model near each other in D dimensions. t-SNE (van der Maaten & Hinton,
2008; scikit-learn's Barnes-Hut version) draws that neighbourhood structure in 2-D,
after a PCA to 50 dimensions as its authors recommend for speed and noise.

t-SNE takes a minute for 10k images, so the map is computed once per model by
`python -m fashion map --model NAME` and stored beside it as `NAME.map.npz`, with a
fingerprint of the model's weights: a test (and the app) can tell whether the map
belongs to the model that is shipped now.

t-SNE has no formula for new points. An uploaded image is placed where its nearest test
images are: the mean 2-D position of its K_NEIGHBOURS nearest test images in feature
space (Euclidean, the distance t-SNE itself started from).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion.card import MODELS_DIR

SUFFIX = ".map.npz"
PCA_DIMS = 50  # van der Maaten's advice before t-SNE; the features have 64 to 128 dims
PERPLEXITY = 30.0  # scikit-learn's default, the usual choice for thousands of points
K_NEIGHBOURS = 10  # test images that decide where a new image lands on the map
METHOD = (
    f"t-SNE (perplexity {PERPLEXITY:g}, PCA to {PCA_DIMS} dims first) of the model's "
    "penultimate-layer features"
)


@dataclass(frozen=True)
class TestMap:
    """The 2-D map of the test set for one model."""

    model: str  # the model's name
    fingerprint: str  # `weights_fingerprint` of the model the map was computed from
    xy: np.ndarray  # (N, 2) float32: row i is test image i
    method: str  # how xy was computed, in words (shown on the page)
    seconds: float  # how long the computation took

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (a temporary file, then a rename): the app never reads half."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            xy=self.xy.astype(np.float32),
            model=np.array(self.model),
            fingerprint=np.array(self.fingerprint),
            method=np.array(self.method),
            seconds=np.array(self.seconds),
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TestMap:
        with np.load(path) as f:
            return cls(
                model=str(f["model"]),
                fingerprint=str(f["fingerprint"]),
                xy=f["xy"].astype(np.float32),
                method=str(f["method"]),
                seconds=float(f["seconds"]),
            )


def map_path(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    return Path(models_dir) / f"{name}{SUFFIX}"


def read(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> TestMap | None:
    """The stored map of model `name`, or None if it has none."""
    path = map_path(name, models_dir)
    return TestMap.load(path) if path.exists() else None


def weights_fingerprint(model) -> str:
    """SHA-256 of a Keras model's weights (shapes, dtypes and values, in layer order).

    The same weights give the same fingerprint however the file was written; one
    changed weight gives another.
    """
    digest = hashlib.sha256()
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        digest.update(f"{w.dtype.str}{w.shape}".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()


def embed(features: np.ndarray, seed: int = 0, perplexity: float = PERPLEXITY) -> np.ndarray:
    """(N, D) features -> (N, 2) float32 t-SNE coordinates (deterministic for a seed).

    Args:
        features: one row per image.
        seed: t-SNE's random state (its PCA initialisation makes the layout stable).
        perplexity: roughly the number of neighbours each point keeps close; lowered
            for tiny inputs, where it must stay below N.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    dims = min(PCA_DIMS, x.shape[1], len(x))
    if dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    tsne = TSNE(
        n_components=2,
        perplexity=min(perplexity, (len(x) - 1) / 3),
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    return tsne.fit_transform(x).astype(np.float32)


def penultimate(clf, images: np.ndarray) -> np.ndarray:
    """(N, D) penultimate-layer features of `images` under Classifier `clf`.

    The Classifier serves several layers' features side by side (for the not-a-garment
    check); the penultimate layer's come first. The map uses those alone: they are what
    the model's last layer separates the classes with.
    """
    from fashion.serving.engines import feature_groups

    _, features = clf.outputs(images)
    return features[:, : feature_groups(clf.model)[0]]


def build(clf, images: np.ndarray, seed: int = 0) -> TestMap:
    """The map of `images` (normally the whole test set) under Classifier `clf`."""
    t0 = time.perf_counter()
    xy = embed(penultimate(clf, images), seed=seed)
    return TestMap(
        model=clf.name,
        fingerprint=weights_fingerprint(clf.model),
        xy=xy,
        method=METHOD,
        seconds=round(time.perf_counter() - t0, 1),
    )


def write(
    name: str | None = None,
    models_dir: str | os.PathLike = MODELS_DIR,
    limit: int | None = None,
    seed: int = 0,
) -> Path:
    """Compute and store the map of model `name` (default: the default model).

    Args:
        limit: map only the first `limit` test images (a quick check; the app wants all).
    """
    from fashion.data import official
    from fashion.serving.classifier import Classifier

    clf = Classifier.load(name, models_dir=Path(models_dir))
    images = official.test_set().as_float()
    if limit:
        images = images[:limit]
    test_map = build(clf, images, seed=seed)
    return test_map.save(map_path(clf.name, models_dir))


@dataclass(frozen=True)
class Placement:
    """Where a new image lands on the map, and why."""

    xy: np.ndarray  # (2,) its position: the mean of its neighbours' positions
    neighbours: np.ndarray  # (K,) test indices, nearest first
    distances: np.ndarray  # (K,) Euclidean distances in feature space, ascending


def place(
    features: np.ndarray, test_features: np.ndarray, xy: np.ndarray, k: int = K_NEIGHBOURS
) -> Placement:
    """Place one image on a map by its `k` nearest test images in feature space.

    Args:
        features: (D,) or (1, D) penultimate features of the new image.
        test_features: (N, D) features of the mapped test images, same model.
        xy: (N, 2) the map's coordinates of those test images.
        k: neighbours to average.
    """
    f = np.asarray(features, dtype=np.float64).reshape(-1)
    t = np.asarray(test_features, dtype=np.float64)
    if t.shape[1] != f.size:
        raise ValueError(f"features have {f.size} dims, the test features {t.shape[1]}")
    d2 = np.einsum("ij,ij->i", t, t) - 2 * t @ f + f @ f  # (N,) squared distances
    k = min(k, len(t))
    nearest = np.argpartition(d2, k - 1)[:k]
    nearest = nearest[np.lexsort((nearest, d2[nearest]))]  # by distance, ties by index
    return Placement(
        xy=np.asarray(xy, dtype=np.float64)[nearest].mean(axis=0),
        neighbours=nearest,
        distances=np.sqrt(np.maximum(d2[nearest], 0.0)),
    )


FILTERS = {
    "all": "All images",
    "mistakes": "Only mistakes",
    "label-errors": "Possible label errors",
}


def filter_points(
    probs: np.ndarray,
    labels: np.ndarray,
    kind: str = "all",
    true_class: int | None = None,
    predicted_class: int | None = None,
) -> np.ndarray:
    """Test indices the map shows in colour under its filters, in index order.

    Args:
        probs: (N, 10) the model's probabilities; labels: (N,) true labels.
        kind: a key of FILTERS; "label-errors" keeps `label_errors.label_error_ranking`'s
            candidates (confident mistakes that may be the dataset's).
        true_class / predicted_class: keep only this true / predicted class.
    """
    from fashion.trust.label_errors import label_error_ranking

    labels = np.asarray(labels)
    pred = np.asarray(probs).argmax(axis=1)
    keep = np.ones(len(labels), dtype=bool)
    if kind == "mistakes":
        keep &= pred != labels
    elif kind == "label-errors":
        candidates = np.zeros(len(labels), dtype=bool)
        candidates[label_error_ranking(probs, labels)] = True
        keep &= candidates
    elif kind != "all":
        raise ValueError(f"unknown filter {kind!r}; choose one of {', '.join(FILTERS)}")
    if true_class is not None:
        keep &= labels == true_class
    if predicted_class is not None:
        keep &= pred == predicted_class
    return np.flatnonzero(keep)


def mistakes_first(indices: np.ndarray, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`indices` reordered for showing a selection: its mistakes first, the most confident
    wrong answer first, then the correct ones in index order."""
    idx = np.asarray(indices, dtype=np.int64)
    pred = np.asarray(probs).argmax(axis=1)[idx]
    wrong = pred != np.asarray(labels)[idx]
    confidence = np.asarray(probs)[idx, pred]
    # lexsort: the last key is the primary one.
    return idx[np.lexsort((idx, np.where(wrong, -confidence, 0.0), ~wrong))]
