"""The test-set map (fashion.analysis.feature_map), the two-model comparison
(fashion.analysis.disagreement), and their pages under AppTest: real dataset, real shipped
models, real map files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion import card as cards
from fashion.analysis import charts, disagreement, feature_map, metrics
from fashion.classes import CLASS_NAMES
from fashion.trust.label_errors import label_error_ranking
from fashion.ui import pages

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 240  # the first run loads TensorFlow and classifies the 10k test images


def _keras_model(name: str):
    import keras

    return keras.saving.load_model(cards.model_path(name), compile=False)


# ------------------------------------------------------------------ the shipped map files


def test_the_default_model_has_a_map():
    name = cards.default_name()
    assert feature_map.map_path(name).exists(), (
        f"the default model {name} has no map: run `python -m fashion map --model {name}` "
        f"and commit {feature_map.map_path(name).name}"
    )


def test_every_map_file_belongs_to_its_shipped_model(test_split):
    files = sorted(cards.MODELS_DIR.glob(f"*{feature_map.SUFFIX}"))
    assert files, "no map files in assets/models"
    for path in files:
        name = path.name.removesuffix(feature_map.SUFFIX)
        assert cards.model_path(name).exists(), f"{path.name} has no model beside it"
        test_map = feature_map.TestMap.load(path)
        assert test_map.model == name
        # Retrained weights make the stored map meaningless: the command must be rerun.
        assert test_map.fingerprint == feature_map.weights_fingerprint(_keras_model(name)), (
            f"{path.name} was computed from other weights: rerun `python -m fashion map "
            f"--model {name}`"
        )
        assert test_map.xy.shape == (len(test_split), 2)
        assert np.isfinite(test_map.xy).all()


def test_every_map_puts_alike_images_together(test_split):
    """Row i is test image i, and the map means something: a point's 10 nearest points on
    the map mostly share its true class (chance would be 10 %; the shipped maps score 0.8
    for the weakest tutorial net to 0.93 for the best model)."""
    from scipy.spatial import cKDTree

    for path in sorted(cards.MODELS_DIR.glob(f"*{feature_map.SUFFIX}")):
        xy = feature_map.TestMap.load(path).xy
        _, nearest = cKDTree(xy).query(xy, k=11)
        same = (test_split.labels[nearest[:, 1:]] == test_split.labels[:, None]).mean()
        assert same > 0.6, (path.name, same)


# ------------------------------------------------------------------ the library


def test_fingerprint_follows_the_weights_not_the_object():
    from fashion.training import registry

    a = registry.get("flatten-128").build()
    b = registry.get("flatten-128").build()
    b.set_weights(a.get_weights())
    assert feature_map.weights_fingerprint(a) == feature_map.weights_fingerprint(b)
    weights = b.get_weights()
    weights[-1] = weights[-1] + np.float32(1e-6)  # one bias nudged
    b.set_weights(weights)
    assert feature_map.weights_fingerprint(a) != feature_map.weights_fingerprint(b)


def test_map_file_round_trip(tmp_path):
    xy = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    saved = feature_map.TestMap("m", "abc", xy, "a method", 1.5)
    loaded = feature_map.TestMap.load(saved.save(tmp_path / f"m{feature_map.SUFFIX}"))
    assert (loaded.model, loaded.fingerprint, loaded.method, loaded.seconds) == (
        "m",
        "abc",
        "a method",
        1.5,
    )
    np.testing.assert_array_equal(loaded.xy, xy)


def test_place_is_the_mean_of_the_nearest_neighbours():
    rng = np.random.default_rng(1)
    features, xy = rng.normal(size=(500, 16)), rng.normal(size=(500, 2))
    query = rng.normal(size=16)
    placed = feature_map.place(query, features, xy, k=7)
    distances = np.linalg.norm(features - query, axis=1)  # the brute-force reference
    expected = np.argsort(distances, kind="stable")[:7]
    np.testing.assert_array_equal(placed.neighbours, expected)
    np.testing.assert_allclose(placed.distances, distances[expected], rtol=1e-9)
    np.testing.assert_allclose(placed.xy, xy[expected].mean(axis=0))
    # A test image placed by its own features lands among its twins: itself first.
    again = feature_map.place(features[42], features, xy, k=1)
    assert again.neighbours.tolist() == [42]
    np.testing.assert_allclose(again.xy, xy[42])


def test_map_command_writes_a_map_of_the_model(tmp_path, test_split):
    """`python -m fashion map` on a copy of a shipped model, over the first 300 test images."""
    from fashion.__main__ import main
    from fashion.serving.classifier import Classifier

    name = cards.shipped()[-1].name  # any shipped model; the last is the smallest here
    for f in cards.MODELS_DIR.glob(f"{name}.*"):
        if not f.name.endswith(feature_map.SUFFIX):
            (tmp_path / f.name).symlink_to(f)
    assert main(["map", "--model", name, "--models-dir", str(tmp_path), "--limit", "300"]) == 0
    written = feature_map.read(name, tmp_path)
    assert written.xy.shape == (300, 2)
    assert written.fingerprint == feature_map.weights_fingerprint(_keras_model(name))
    # The features it was computed from are the Classifier's, so placing a mapped image
    # by its own features finds it.
    clf = Classifier.load(name, models_dir=tmp_path)
    features = feature_map.penultimate(clf, test_split.as_float()[:300])
    assert feature_map.place(features[7], features, written.xy, k=1).neighbours[0] == 7


def test_a_selection_is_shown_mistakes_first():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.1, 0.9]])
    labels = np.array([0, 0, 0, 1, 1])  # wrong: 1 (at 0.8), 2 (at 0.6), 3 (at 0.7)
    order = feature_map.mistakes_first(np.array([4, 3, 2, 1, 0]), probs, labels)
    assert order.tolist() == [1, 3, 2, 0, 4]


def test_filter_points_matches_the_metrics():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.full(10, 0.3), size=2000)
    labels = rng.integers(0, 10, 2000)
    pred = probs.argmax(1)
    assert len(feature_map.filter_points(probs, labels)) == 2000
    np.testing.assert_array_equal(
        feature_map.filter_points(probs, labels, "mistakes"),
        np.sort(metrics.mistakes(probs, labels, order="index")),
    )
    np.testing.assert_array_equal(
        feature_map.filter_points(probs, labels, "label-errors"),
        np.sort(label_error_ranking(probs, labels)),
    )
    got = feature_map.filter_points(probs, labels, "mistakes", true_class=6, predicted_class=0)
    np.testing.assert_array_equal(got, np.flatnonzero((labels == 6) & (pred == 0)))
    with pytest.raises(ValueError):
        feature_map.filter_points(probs, labels, "nonsense")


def test_map_chart_draws_the_shown_points_and_marks_mistakes():
    rng = np.random.default_rng(3)
    n = 300
    xy, labels = rng.normal(size=(n, 2)), rng.integers(0, 10, n)
    pred = np.where(rng.random(n) < 0.2, (labels + 1) % 10, labels)
    shown = np.flatnonzero(rng.random(n) < 0.5)
    fig = charts.map_of_test_set(xy, labels, pred, np.full(n, 0.9), shown, np.zeros(2), shown[:3])
    coloured = [t for t in fig.data if t.customdata is not None]
    assert [t.name for t in coloured] == list(CLASS_NAMES)
    drawn = np.concatenate([np.asarray(t.customdata, dtype=int) for t in coloured])
    assert sorted(drawn.tolist()) == shown.tolist()
    for t in coloured:
        idx = np.asarray(t.customdata, dtype=int)
        assert ((np.asarray(t.marker.symbol) == "x") == (pred[idx] != labels[idx])).all()
    context = fig.data[0]
    assert len(context.x) == n - len(shown) and context.hoverinfo == "skip"
    assert any(t.name == "your image" for t in fig.data)


def test_map_selection_reads_test_indices_from_any_point():
    points = [
        {"curve_number": 3, "point_index": 0, "customdata": 17},
        {"curve_number": 3, "point_index": 1, "customdata": [5]},
        {"curve_number": 0, "point_index": 9},  # the greyed-out context: no index
        {"curve_number": 4, "point_index": 0, "customdata": 17},  # twice: kept once
    ]
    assert charts.map_selection(points) == [17, 5]
    assert charts.map_selection([]) == []


def test_compare_splits_every_image_into_one_group():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, 1000)
    probs_a = rng.dirichlet(np.ones(10), 1000)
    probs_b = rng.dirichlet(np.ones(10), 1000)
    probs_a[:600, :] = np.eye(10)[labels[:600]] * 0.9 + 0.01  # A right on the first 600
    comp = disagreement.compare(probs_a, probs_b, labels)
    groups = [comp.group(k) for k in disagreement.GROUPS]
    together = np.concatenate(groups)
    assert sorted(together.tolist()) == list(range(1000))  # a partition
    pred_a, pred_b = probs_a.argmax(1), probs_b.argmax(1)
    for i in range(1000):  # the reference: one image at a time
        right_a, right_b = pred_a[i] == labels[i], pred_b[i] == labels[i]
        key = (
            "both_right"
            if right_a and right_b
            else "only_a"
            if right_a
            else "only_b"
            if right_b
            else "both_wrong_same"
            if pred_a[i] == pred_b[i]
            else "both_wrong_differently"
        )
        assert i in comp.group(key)
    wrong_b = probs_b[comp.only_a, pred_b[comp.only_a]]
    assert (np.diff(wrong_b) <= 0).all()  # B's most confident mistakes first
    assert comp.disagreements == int((pred_a != pred_b).sum())
    assert disagreement.per_class(comp.only_a, labels).sum() == len(comp.only_a)


# ------------------------------------------------------------------ the pages (AppTest)


def _clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _map_chart(at) -> dict:
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"].get("dragmode") == "pan")


def _indices(trace: dict) -> list[int]:
    return [int(i) for i in trace.get("customdata") or []]


@pytest.fixture(scope="module")
def map_app():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(pages.path("map")).run()
    _clean(at)
    return at


@pytest.fixture(scope="module")
def shown_probs(map_app):
    from fashion.serving.classifier import Classifier

    clf = Classifier.load(map_app.session_state["model_name"])
    from fashion.data import official

    return clf.predict_proba(official.test_set().as_float())


def test_map_page_draws_every_test_image(map_app, test_split, shown_probs):
    chart = _map_chart(map_app)
    drawn = [i for t in chart["data"] for i in _indices(t)]
    assert sorted(drawn) == list(range(len(test_split)))
    wrong = int((shown_probs.argmax(1) != test_split.labels).sum())
    counts = next(c.value for c in map_app.caption if "images in colour" in c.value)
    assert counts == f"**10,000** of 10,000 images in colour, **{wrong:,}** of them mistakes."


def test_map_filters_keep_only_the_matching_points(map_app, test_split, shown_probs):
    labels, pred = test_split.labels, shown_probs.argmax(1)
    map_app.selectbox(key="map_filter").set_value("mistakes").run()
    map_app.selectbox(key="map_true").set_value(6).run()
    _clean(map_app)
    coloured = [i for t in _map_chart(map_app)["data"] for i in _indices(t)]
    assert sorted(coloured) == np.flatnonzero((labels == 6) & (pred != 6)).tolist()
    map_app.selectbox(key="map_filter").set_value("label-errors").run()
    map_app.selectbox(key="map_true").set_value(-1).run()
    coloured = [i for t in _map_chart(map_app)["data"] for i in _indices(t)]
    assert sorted(coloured) == sorted(label_error_ranking(shown_probs, labels).tolist())
    map_app.selectbox(key="map_filter").set_value("all").run()


def test_a_selection_on_the_map_shows_its_images_and_the_detail(map_app, test_split):
    """The page's side of a selection: the browser tests drive a real lasso and click."""
    picked = [int(i) for i in np.flatnonzero(test_split.labels == 6)[:3]]
    map_app.session_state["map_selection"] = picked
    map_app.run()
    _clean(map_app)
    assert "3 selected images" in [s.value for s in map_app.subheader]
    tiles = [c.value for c in map_app.caption if c.value.startswith("#")]
    assert sorted(int(t.split(" ")[0][1:]) for t in tiles) == sorted(picked)
    assert all("true **Shirt**" in t for t in tiles)
    map_app.button(key=f"map-inspect-{picked[1]}").click().run()
    _clean(map_app)
    assert f"Test image #{picked[1]}" in [s.value for s in map_app.subheader]
    map_app.button(key="map_clear").click().run()
    assert not [c for c in map_app.caption if c.value.startswith("#")]


def _photo_png(image28: np.ndarray) -> bytes:
    big = Image.fromarray(255 - image28).resize((280, 280), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (400, 360), 255)
    canvas.paste(big, (60, 40))
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def test_an_upload_is_placed_among_its_nearest_test_images(map_app, test_split):
    from fashion.data import preprocess
    from fashion.serving.classifier import Classifier

    trouser = test_split.images[np.flatnonzero(test_split.labels == 1)[3]]
    png = _photo_png(trouser)
    map_app.file_uploader(key="map_upload").set_value(("trouser.png", png, "image/png")).run()
    _clean(map_app)
    assert any(m.value.startswith("**Prediction: Trouser**") for m in map_app.markdown)
    # The reference: the same steps outside the app.
    name = map_app.session_state["model_name"]
    clf = Classifier.load(name)
    features = feature_map.penultimate(clf, preprocess.photo(png).image)
    test_features = feature_map.penultimate(clf, test_split.as_float())
    expected = feature_map.place(features[0], test_features, feature_map.read(name).xy)
    chart = _map_chart(map_app)
    star = next(t for t in chart["data"] if t.get("name") == "your image")
    np.testing.assert_allclose([star["x"][0], star["y"][0]], expected.xy, rtol=1e-4)
    shown = [c.caption for el in map_app.get("image") for c in el.proto.imgs if c.caption]
    neighbours = [int(c.split(" ")[0][1:]) for c in shown if c.startswith("#")]
    assert neighbours == expected.neighbours.tolist()
    lands = next(m.value for m in map_app.markdown if "lands here" in m.value)
    assert "Trouser" in lands
    map_app.file_uploader(key="map_upload").set_value(None).run()
    assert not any(t.get("name") == "your image" for t in _map_chart(map_app)["data"])


def test_compare_page_counts_match_the_library(shipped_cards, test_split):
    if len(shipped_cards) < 2:
        pytest.skip("needs two shipped models")
    from fashion.data import official
    from fashion.serving.classifier import Classifier

    a, b = shipped_cards[0].name, shipped_cards[1].name
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(pages.path("compare")).run()
    at.selectbox(key="compare_a").set_value(a).run()
    at.selectbox(key="compare_b").set_value(b).run()
    _clean(at)
    images = official.test_set().as_float()
    comp = disagreement.compare(
        Classifier.load(a).predict_proba(images),
        Classifier.load(b).predict_proba(images),
        test_split.labels,
    )
    shown = {m.label: m.value for m in at.metric}
    assert shown[f"Only {a} right"] == f"{len(comp.only_a):,}"
    assert shown[f"Only {b} right"] == f"{len(comp.only_b):,}"
    assert shown["Both right"] == f"{len(comp.both_right):,}"
    at.segmented_control(key="compare_group").set_value("only_b").run()
    tiles = [c.value for c in at.caption if c.value.startswith("#")]
    assert [int(t.split(" ")[0][1:]) for t in tiles] == comp.only_b[: len(tiles)].tolist()
    assert all("✗  \nB: " in t and t.endswith("✓") for t in tiles), tiles[:2]
    at.button(key=f"cmp-{comp.only_b[0]}").click().run()
    _clean(at)
    assert f"Test image #{comp.only_b[0]}" in [s.value for s in at.subheader]
    bars = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = {(c["layout"].get("title") or {}).get("text") for c in bars}
    assert {a, b} <= titles
