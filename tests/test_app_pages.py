"""Every page of the Streamlit app, run by AppTest on the real dataset and shipped models."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion.classes import CLASS_NAMES
from fashion.ui import pages

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["classify", "confusion", "mistakes", "models", "dataset"]
TIMEOUT = 180  # the first run loads TensorFlow and classifies the 10k test images


def fresh_app() -> AppTest:
    """A new session, run once: AppTest only knows the registered pages after a run."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def open_page(at: AppTest, page: str) -> AppTest:
    return at.switch_page(pages.path(page)).run()


def open_classify(at: AppTest, mode: str) -> AppTest:
    """The Classify page with the input tab `mode` open (only the open tab runs)."""
    from fashion.ui.pages.classify import MODES, TABS_KEY

    open_page(at, "classify")
    at.session_state[TABS_KEY] = MODES[mode]
    return at.run()


def classify_tab(at: AppTest, mode: str):
    from fashion.ui.pages.classify import MODES

    return next(t for t in at.tabs if t.label == MODES[mode])


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A plotly JSON value as numpy: plotly 6+ sends numpy data as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}"
    return values[0]


@pytest.fixture(scope="module")
def app() -> AppTest:
    """One app session shared by the tests (Streamlit's caches make reruns fast)."""
    at = fresh_app()
    assert_clean(at)
    return at


@pytest.fixture
def models(shipped_cards) -> list[str]:
    return [c.name for c in shipped_cards]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_cleanly(app, page):
    open_page(app, page)
    assert_clean(app)
    assert app.title, f"page {page} shows no title"


def test_sidebar_lists_every_shipped_model_with_its_accuracy():
    from fashion.card import shipped

    # A fresh session, and the cards read now: a training run may ship a model mid-suite.
    at = fresh_app()
    cards = shipped()
    picker = at.sidebar.selectbox[0]
    assert list(picker.options) == [f"{c.name} · {c.test_accuracy:.2%}" for c in cards]
    assert picker.value == cards[0].name  # the best model is the default


@pytest.mark.parametrize("index", [0, 42, 9999])
def test_test_sample_shows_true_label_prediction_and_chart(app, test_split, index):
    open_classify(app, "sample")
    app.number_input(key="sample_index").set_value(index).run()
    assert_clean(app)
    true = CLASS_NAMES[test_split.labels[index]]
    assert f"**True label:** {true}" in [m.value for m in app.markdown]
    assert f"Test image #{index} of 10,000" in app.caption[-1].value or any(
        f"Test image #{index} of 10,000" in c.value for c in app.caption
    )
    from fashion.serving.classifier import Classifier

    probs = (
        Classifier.load(app.session_state["model_name"])
        .predict(test_split.images[index] / 255.0)
        .probs
    )
    pred = CLASS_NAMES[int(probs.argmax())]
    headline = app.subheader[-1].value
    assert pred in headline
    assert ("Correct" in headline) == (pred == true)
    bars = [c for c in charts(app) if c["data"][0].get("orientation") == "h"]
    assert bars, "no probability chart"
    np.testing.assert_allclose(array(bars[-1]["data"][0]["x"]), probs, atol=1e-6)


def test_random_of_class_picks_that_class(app, test_split):
    open_classify(app, "sample")
    app.selectbox(key="sample_class").set_value(7).run()
    for _ in range(3):
        app.button(key="random_of_class").click().run()
        index = app.session_state["sample_index"]
        assert test_split.labels[index] == 7
        assert f"**True label:** {CLASS_NAMES[7]}" in [m.value for m in app.markdown]


def test_changing_the_model_changes_the_numbers(shipped_cards):
    if len(shipped_cards) < 2:
        pytest.skip("needs two shipped models")
    at = open_page(fresh_app(), "confusion")
    seen = []
    for card in shipped_cards[:2]:
        at.sidebar.selectbox[0].set_value(card.name).run()
        assert_clean(at)
        shown = float(metric(at, "Test accuracy").rstrip("%")) / 100
        # The card was measured by `fashion evaluate`; the app recomputes it live.
        assert abs(shown - card.test_accuracy) <= 0.0002, card.name
        seen.append(shown)
    assert seen[0] != seen[1]


def test_confusion_totals_are_the_10k_test_set(app, shipped_cards):
    open_page(app, "confusion")
    assert metric(app, "Test images") == "10,000"
    heat = next(c for c in charts(app) if any(t["type"] == "heatmap" for t in c["data"]))
    cells = array(next(t for t in heat["data"] if t["type"] == "scatter")["customdata"])
    counts = np.zeros((10, 10), int)
    for true, pred, n in cells:
        counts[int(true), int(pred)] = int(n)
    assert counts.sum() == 10_000
    np.testing.assert_array_equal(counts.sum(axis=1), np.full(10, 1000))
    card = next(c for c in shipped_cards if c.name == app.session_state["model_name"])
    np.testing.assert_array_equal(counts, np.array(card.confusion_matrix))
    table = app.dataframe[0].value
    assert int(table["support"].sum()) == 10_000


def _pick_pair(app, shipped_cards, page: str, prefix: str, true: int, pred: int) -> np.ndarray:
    """Open `page`, choose the (true, predicted) pair; return the model's confusion matrix."""
    open_page(app, page)
    card = next(c for c in shipped_cards if c.name == app.session_state["model_name"])
    app.selectbox(key=f"{prefix}_true").set_value(true).run()
    app.selectbox(key=f"{prefix}_pred").set_value(pred).run()
    assert_clean(app)
    return np.array(card.confusion_matrix)


def test_confusion_cell_shows_that_pairs_samples(app, shipped_cards):
    cm = _pick_pair(app, shipped_cards, "confusion", "cm", 4, 2)
    text = next(m.value for m in app.markdown if "test images of" in m.value)
    assert text.startswith(f"**{cm[4, 2]}** test images of **Coat** predicted as **Pullover**")
    tiles = [c.value for c in app.caption if c.value.startswith("#")]
    assert len(tiles) == min(cm[4, 2], 24)
    for tile in tiles:
        assert "true **Coat**" in tile and "said Pullover" in tile, tile
    if tiles:  # a thumbnail opens the same detail as on the Mistakes explorer
        first = int(tiles[0].split(" ")[0][1:])
        app.button(key=f"cm-inspect-{first}").click().run()
        assert_clean(app)
        assert f"Test image #{first}" in [s.value for s in app.subheader]
        assert any(c.startswith("What made it say") for c in _image_captions(app))


def _image_captions(at: AppTest) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def test_mistakes_filters_return_only_matching_samples(app, shipped_cards):
    cm = _pick_pair(app, shipped_cards, "mistakes", "mistake", 6, 0)
    count = next(c.value for c in app.caption if "matching mistakes" in c.value)
    assert count.startswith(f"**{cm[6, 0]:,}** matching mistakes")
    tiles = [c.value for c in app.caption if c.value.startswith("#")]
    assert 0 < len(tiles) <= 24
    for tile in tiles:
        assert "true **Shirt**" in tile and "said T-shirt/top" in tile, tile


def test_mistakes_sorted_by_confidence_and_inspect_shows_chart(app):
    open_page(app, "mistakes")
    app.selectbox(key="mistake_true").set_value(-1).run()
    app.selectbox(key="mistake_pred").set_value(-1).run()
    app.selectbox(key="mistake_order").set_value("confident").run()
    tiles = [c.value for c in app.caption if c.value.startswith("#")]
    confidences = [int(re.search(r"(\d+)%$", t).group(1)) for t in tiles]
    assert confidences == sorted(confidences, reverse=True)
    first = int(tiles[0].split(" ")[0][1:])
    app.button(key=f"inspect-{first}").click().run()
    assert_clean(app)
    assert f"Test image #{first}" in [s.value for s in app.subheader]
    assert any(c["data"][0].get("orientation") == "h" for c in charts(app))


def test_possible_label_errors_filter_lists_only_ranked_candidates(app, test_split):
    from fashion.serving.classifier import Classifier
    from fashion.trust.label_errors import label_error_ranking

    open_page(app, "mistakes")
    app.selectbox(key="mistake_true").set_value(-1).run()
    app.selectbox(key="mistake_pred").set_value(-1).run()
    app.toggle(key="mistake_label_errors").set_value(True).run()
    assert_clean(app)
    assert any("dataset's mistakes, not the model's" in i.value for i in app.info)
    clf = Classifier.load(app.session_state["model_name"])
    expected = label_error_ranking(clf.predict_proba(test_split.images / 255.0), test_split.labels)
    count = next(c.value for c in app.caption if "matching mistakes" in c.value)
    assert count.startswith(f"**{len(expected):,}** matching mistakes")
    tiles = [int(c.value.split(" ")[0][1:]) for c in app.caption if c.value.startswith("#")]
    assert tiles == list(expected[: len(tiles)])
    # Inspecting one shows its chart and a saliency overlay.
    if tiles:
        app.button(key=f"inspect-{tiles[0]}").click().run()
        assert_clean(app)
        assert f"Test image #{tiles[0]}" in [s.value for s in app.subheader]
        assert any(c.startswith("What made it say") for c in _image_captions(app))
    app.toggle(key="mistake_label_errors").set_value(False).run()


def test_explain_toggle_shows_the_saliency_overlay(app):
    open_classify(app, "sample")
    app.number_input(key="sample_index").set_value(0).run()
    assert not any(c.startswith("What made it say") for c in _image_captions(app))
    app.toggle(key="sample-explain").set_value(True).run()
    assert_clean(app)
    assert any(c.startswith("What made it say") for c in _image_captions(app))
    app.toggle(key="sample-explain").set_value(False).run()


def test_models_page_compares_every_model_with_live_latency(app, shipped_cards):
    open_page(app, "models")
    table = app.dataframe[0].value
    assert list(table["model"]) == [c.name for c in shipped_cards]
    assert (table["latency (ms)"] > 0).all()
    assert (table["parameters"] == [c.n_params for c in shipped_cards]).all()
    # Training curves, per-class accuracy, and the selected model's reliability diagram.
    assert len(charts(app)) == 3
    reliability = charts(app)[2]
    assert reliability["data"][-1]["name"] == "perfectly calibrated"
    # In words a visitor understands first; the raw figures wait in expanders.
    text = " ".join(m.value for m in app.markdown)
    best = shipped_cards[0]
    assert f"When {best.name} says it is 80 % sure, it is right about 80 % of the time" in text
    assert f"{best.ood_flag_rate_test:.1%} of real garments" in text
    labels = [e.label for e in app.expander]
    assert any("calibration error (ECE)" in x for x in labels)
    assert any("scores and thresholds" in x for x in labels)


def test_dataset_page_names_the_source_and_counts(app, dataset):
    open_page(app, "dataset")
    text = " ".join(m.value for m in app.markdown)
    assert dataset.source in text
    assert "every class has 6,000 training and 1,000 test images" in text
    assert len(dataset.train) == 60_000 and len(dataset.test) == 10_000
    # The mean image of every class, named.
    means = [c for c in _image_captions(app) if c and " · " in c]
    assert [c.split(" · ")[0] for c in means] == list(CLASS_NAMES)


def _photo_png(image28: np.ndarray) -> bytes:
    """A 'product photo': the garment dark on a white background, 10x bigger, off-centre."""
    big = Image.fromarray(255 - image28).resize((280, 280), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (400, 360), 255)
    canvas.paste(big, (90, 20))
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def test_upload_a_png_shows_a_prediction(app, test_split):
    open_classify(app, "upload")
    trouser = test_split.images[np.flatnonzero(test_split.labels == 1)[0]]
    app.file_uploader(key="upload").set_value(("trouser.png", _photo_png(trouser), "image/png"))
    app.run()
    assert_clean(app)
    headlines = [s.value for s in app.subheader if s.value.startswith("Prediction:")]
    assert headlines == ["Prediction: Trouser" + headlines[0][len("Prediction: Trouser") :]]
    assert any("Top 3:" in m.value for m in app.markdown)
    app.file_uploader(key="upload").set_value(None).run()


def _box_set(app: AppTest, key: str, box: tuple[float, float, float, float] | None) -> None:
    """Move the box sliders to `box` (shares of the photo) and switch the box on, or off
    for None."""
    if box is not None:
        pct = [round(100 * v) for v in box]
        app.slider(key=f"{key}-x").set_value((pct[0], pct[2]))
        app.slider(key=f"{key}-y").set_value((pct[1], pct[3]))
    app.toggle(key=f"{key}-on").set_value(box is not None).run()


def test_a_home_photo_shows_its_cut_out_and_a_box_redoes_it(app, test_split):
    """Trousers on a floor with a bag beside them: answered, the cut-out is one of the
    steps shown, and a box round the bag redoes the cut-out (a box round bare floor is
    refused, with words)."""
    from fashion.data import preprocess, renders

    open_classify(app, "upload")
    photo, box = renders.two_garments_at_home(test_split.images[2], test_split.images[18], 3)
    app.file_uploader(key="upload").set_value(("floor.png", photo, "image/png")).run()
    assert_clean(app)
    assert [s.value for s in app.subheader if s.value.startswith("Prediction: Trouser")]
    steps = [i.proto.imgs[0].caption for i in app.get("image")]
    assert preprocess.CUT_OUT_STEP in steps
    assert any(e.label.startswith("Wrong cut-out?") for e in app.expander)
    _box_set(app, "upload-box", box)
    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["Cut out inside your box."]
    assert [s.value for s in app.subheader if s.value.startswith("Prediction: Bag")]
    _box_set(app, "upload-box", (0.0, 0.0, 0.1, 0.1))  # a corner of bare floor
    assert any("inside your box" in e.value for e in app.error)
    _box_set(app, "upload-box", None)
    assert_clean(app)
    assert [s.value for s in app.subheader if s.value.startswith("Prediction: Trouser")]
    app.file_uploader(key="upload").set_value(None).run()


def test_the_page_opens_with_an_example_already_classified(test_split):
    """A newcomer sees an answer before the first click, and the URL names the view."""
    from fashion.data.examples import examples

    at = fresh_app()
    assert_clean(at)
    headlines = [s.value for s in at.subheader if s.value.startswith("Prediction:")]
    assert len(headlines) == 1
    keys = [str(b.key) for b in at.button if str(b.key).startswith("example-")]
    assert len(keys) == len(examples(test_split)) >= 6
    assert dict(at.query_params) == {
        "model": at.session_state["model_name"],
        "mode": "examples",
        "example": keys[0].removeprefix("example-"),
    }


def test_an_example_click_classifies_that_example(app, test_split):
    from fashion.data.examples import TEST_INDICES

    open_classify(app, "examples")
    index = TEST_INDICES[0]
    app.button(key=f"example-test-{index}").click().run()
    assert_clean(app)
    assert f"**True label:** {CLASS_NAMES[test_split.labels[index]]}" in [
        m.value for m in app.markdown
    ]
    assert app.button(key=f"example-test-{index}").proto.type == "primary"  # highlighted


def test_several_photos_give_a_grid_a_csv_and_one_in_detail(app, test_split):
    files = [
        (
            f"{CLASS_NAMES[k]}.png",
            _photo_png(test_split.images[np.flatnonzero(test_split.labels == k)[0]]),
            "image/png",
        )
        for k in (1, 7, 8)
    ] + [("broken.jpg", b"not an image", "image/jpeg")]
    open_classify(app, "upload")
    app.file_uploader(key="upload").set_value(files).run()
    assert_clean(app)
    assert any(s.value == "4 photos: 3 classified, 1 unusable" for s in app.subheader)
    tiles = [c.value for c in app.caption if c.value.endswith(".png")]
    assert [t.split("**")[1] for t in tiles] == ["Trouser", "Sneaker", "Bag"]
    assert any("broken.jpg" in c.value for c in app.caption)
    assert app.get("download_button"), "no CSV download"
    # One in detail, chosen from the grid.
    app.selectbox(key="upload_detail").set_value(2).run()
    assert any(s.value.startswith("Prediction: Bag") for s in app.subheader)
    app.file_uploader(key="upload").set_value(None).run()


def test_choosing_a_class_shows_one_of_its_images_at_once(app, test_split):
    open_classify(app, "sample")
    app.number_input(key="sample_index").set_value(0).run()
    # The class box names the class of the image shown (test image 0 is an ankle boot).
    assert app.selectbox(key="sample_class").value == test_split.labels[0] == 9
    app.selectbox(key="sample_class").set_value(3).run()  # no other click
    index = app.session_state["sample_index"]
    assert test_split.labels[index] == 3
    assert f"**True label:** {CLASS_NAMES[3]}" in [m.value for m in app.markdown]


def test_an_index_out_of_range_says_so_and_shows_the_last_image(app):
    open_classify(app, "sample")
    app.number_input(key="sample_index").set_value(99_999).run()
    assert_clean(app)
    assert any("no test image #99,999" in w.value for w in app.warning)
    assert app.session_state["sample_index"] == 9_999
    assert any("Test image #9999 of 10,000" in c.value for c in app.caption)


def test_a_link_restores_model_mode_and_test_image(shipped_cards, test_split):
    if len(shipped_cards) < 2:
        pytest.skip("needs two shipped models")
    other = shipped_cards[1].name
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"model": other, "mode": "sample", "sample": "42"})
    at.run()
    assert_clean(at)
    assert at.session_state["model_name"] == other
    assert at.session_state["sample_index"] == 42
    assert f"**True label:** {CLASS_NAMES[test_split.labels[42]]}" in [m.value for m in at.markdown]
    # ... and the URL keeps saying so.
    assert at.query_params["model"] == other


def test_the_chosen_input_survives_a_visit_to_another_page(test_split):
    at = open_classify(fresh_app(), "upload")
    trouser = test_split.images[np.flatnonzero(test_split.labels == 1)[0]]
    at.file_uploader(key="upload").set_value(
        ("trouser.png", _photo_png(trouser), "image/png")
    ).run()
    open_page(at, "confusion")
    open_page(at, "classify")
    assert any(s.value.startswith("Prediction: Trouser") for s in at.subheader)
    assert any("Your last upload: trouser.png" in c.value for c in at.caption)
    open_classify(at, "sample")
    at.number_input(key="sample_index").set_value(42).run()
    open_page(at, "dataset")
    open_page(at, "classify")
    assert at.session_state["sample_index"] == 42
    assert any("Test image #42 of 10,000" in c.value for c in at.caption)


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


WARNING = "Unlike the training images"


def _grace_hopper() -> bytes:
    """A real photo nobody in this project drew: matplotlib's sample portrait."""
    import matplotlib

    return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()


def test_a_portrait_photo_is_refused_or_gets_the_warning(app):
    """A face is not a garment: the upload page either finds no garment in the photo
    (and says so, offering the box) or warns beside what the model says (the same check
    as the CLI); it never shows an unwarned answer."""
    from fashion.data import preprocess
    from fashion.serving.classifier import Classifier

    photo = _grace_hopper()
    open_classify(app, "upload")
    app.file_uploader(key="upload").set_value(("grace.jpg", photo, "image/jpeg")).run()
    assert not app.exception
    upload_tab = classify_tab(app, "upload")
    try:
        prepared = preprocess.photo(photo)
    except preprocess.InputError as exc:
        assert str(exc).startswith(preprocess.NO_GARMENT)
        assert any(preprocess.NO_GARMENT in e.value for e in upload_tab.error)
        assert not any(s.value.startswith("Prediction:") for s in upload_tab.subheader)
        assert any(e.label.startswith("Wrong cut-out?") for e in app.expander)
    else:
        assert Classifier.load(app.session_state["model_name"]).predict(prepared.image).not_garment
        assert any(WARNING in w.value for w in upload_tab.warning)
        assert any(s.value.startswith("Prediction:") for s in upload_tab.subheader)
    app.file_uploader(key="upload").set_value(None).run()


def test_a_shop_photo_of_a_garment_gets_no_warning(app, test_split):
    trouser = test_split.images[np.flatnonzero(test_split.labels == 1)[0]]
    open_classify(app, "upload")
    app.file_uploader(key="upload").set_value(("trouser.png", _photo_png(trouser), "image/png"))
    app.run()
    assert not app.exception
    assert not any(WARNING in w.value for w in classify_tab(app, "upload").warning)
    app.file_uploader(key="upload").set_value(None).run()


def test_not_a_garment_warning_is_shown_when_flagged(app, monkeypatch, test_split):
    """The warning's wiring, whatever the detector says about this image."""
    from fashion.trust import not_garment

    monkeypatch.setattr(
        not_garment.Detector, "flags", lambda self, logits, *_: np.ones(len(logits), bool)
    )
    open_classify(app, "sample")
    app.number_input(key="sample_index").set_value(1).run()
    assert not app.exception
    assert any(WARNING in w.value for w in app.warning)
    monkeypatch.undo()
    app.run()
    assert not any(WARNING in w.value for w in app.warning)


def test_corrupt_upload_shows_a_message_not_a_traceback(app):
    open_classify(app, "upload")
    app.file_uploader(key="upload").set_value(("broken.jpg", b"\xff\xd8 not a jpeg", "image/jpeg"))
    app.run()
    assert not app.exception
    assert any("cannot be used" in e.value for e in app.error)
    app.file_uploader(key="upload").set_value(None).run()
    # The rest of the page still works.
    open_classify(app, "sample")
    assert any(m.value.startswith("**True label:**") for m in app.markdown)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_bad_file_of_the_corpus_is_a_clear_message_in_the_page(app):
    """Issue 5's curated corpus, through the upload widget: the same clear errors as the CLI."""
    from fashion.data.bad_files import bad_files
    from fashion.data.uploads import MAX_UPLOAD_BYTES

    open_classify(app, "upload")
    for case, (file_name, data, word) in sorted(bad_files(MAX_UPLOAD_BYTES).items()):
        # The browser's picker only offers the listed extensions (and Streamlit refuses
        # other names before the page runs), so what reaches our code has one of them.
        if not file_name.endswith((".png", ".jpg")):
            file_name += ".png"
        mime = "image/png" if file_name.endswith(".png") else "application/octet-stream"
        app.file_uploader(key="upload").set_value((file_name, data, mime)).run()
        assert not app.exception, (case, [e.value for e in app.exception])
        errors = [e.value for e in classify_tab(app, "upload").error]
        assert len(errors) == 1 and word.lower() in errors[0].lower(), (case, errors)
        upload_tab = classify_tab(app, "upload")
        assert not any(s.value.startswith("Prediction:") for s in upload_tab.subheader), case
    app.file_uploader(key="upload").set_value(None).run()
    assert_clean(app)


def test_missing_dataset_is_a_message_and_the_app_still_works(monkeypatch, tmp_path):
    import streamlit as st

    from fashion.data import official

    def nowhere(download: bool = True):
        raise official.DatasetError("Fashion-MNIST was not found (test)")

    monkeypatch.setattr(official, "find", nowhere)
    official.load.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = open_page(fresh_app(), "dataset")
        assert not at.exception
        assert any("dataset is not available" in e.value for e in at.error)
        at = open_page(fresh_app(), "classify")
        assert not at.exception and not at.error
        # The examples the project draws need no dataset: one is classified, and the
        # page says why the others are missing.
        assert any("dataset is not available" in w.value for w in at.warning)
        assert any(s.value.startswith("Prediction:") for s in at.subheader)
        assert at.sidebar.selectbox[0].options
        # Only the test-sample tab cannot work.
        open_classify(at, "sample")
        assert len(at.error) == 1 and "dataset is not available" in at.error[0].value
    finally:
        monkeypatch.undo()
        official.load.cache_clear()
        st.cache_resource.clear()
        st.cache_data.clear()


def test_classify_offers_the_same_answers_from_code(app, shipped_cards):
    """ "Use via API": a curl line for this server and the chosen model, and where the
    models and the description are."""
    from fashion.ui.pages.classify import server_url

    at = open_classify(app, "examples")
    assert_clean(at)
    code = "\n".join(c.value for c in at.code)
    assert "/api/predict?model=" + shipped_cards[0].name in code and "curl" in code
    text = "\n".join(m.value for m in at.markdown)
    assert "/api/models" in text and "/api/openapi.json" in text
    assert server_url("https://demo.example.org/classify?mode=sketch") == "https://demo.example.org"
    assert server_url(None) == "http://localhost:8501"
