"""End to end in a real browser: `streamlit run app.py` driven by Playwright's Chromium.

What AppTest cannot see: the canvas component (a real mouse stroke), a real file upload
through the browser, and a click on the confusion-matrix heatmap turned into a plotly
selection event. Every page is also opened and photographed into test-artifacts/;
`FASHION_DOCS=1 pytest tests/test_browser.py` also copies the pictures into docs/ (the
README shows docs/classify.png).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from fashion.classes import CLASS_NAMES
from tests.browser_helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DOCS,
    free_port,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (install it with `make browser`)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

# Generous: the first view of a page loads TensorFlow and classifies the 10k test images,
# all niced below whatever else the machine is doing.
SLOW_MS = 180_000
VIEWPORT = {"width": 1280, "height": 1000}


@pytest.fixture(scope="module")
def base_url():
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    proc = start_server(port, ARTIFACTS / "streamlit.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    pg = context.new_page()
    pg.set_default_timeout(SLOW_MS)
    try:
        yield pg
    finally:
        context.close()


def open_page(pg, path: str, title: str) -> None:
    pg.goto(f"/{path}")
    pg.get_by_role("heading", name=title).wait_for()


def assert_no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.locator('[data-testid="stAlertContentError"]').count() == 0


def wait_for_charts(pg, n: int = 1) -> None:
    """Plotly draws asynchronously after the element arrives; wait for its SVG."""
    pg.locator(".js-plotly-plot .main-svg").nth(n - 1).wait_for()


def screenshot(pg, name: str, full_page: bool = True) -> None:
    """Save test-artifacts/NAME.png, and docs/NAME.png when FASHION_DOCS is set.

    Streamlit scrolls inside its own container, so Playwright's full_page sees only the
    viewport; for a whole page the viewport is stretched to the content first.
    """
    pg.wait_for_timeout(500)  # let the last chart transition finish
    path = ARTIFACTS / f"{name}.png"
    if full_page:
        height = pg.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        pg.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 4000)})
        pg.wait_for_timeout(1000)  # plotly re-lays out on resize
    pg.screenshot(path=path)
    pg.set_viewport_size(VIEWPORT)
    if os.environ.get("FASHION_DOCS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def jpeg_of_a_sneaker(test_split) -> bytes:
    """A 'product photo' the test makes itself: a sneaker, dark on white, enlarged, in colour."""
    img = test_split.images[np.flatnonzero(test_split.labels == 7)[0]]
    big = Image.fromarray(255 - img).resize((336, 336), Image.Resampling.BICUBIC)
    photo = Image.new("L", (480, 400), 255)
    photo.paste(big, (70, 30))
    # White stays white; the dark garment turns navy, as in a real product photo.
    tinted = Image.merge("RGB", [photo, photo, photo.point(lambda v: min(255, v + 60))])
    out = io.BytesIO()
    tinted.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_upload_a_jpeg_shows_its_prediction_and_chart(page, test_split):
    open_page(page, "", "What's this garment?")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "sneaker.jpg", "mimeType": "image/jpeg", "buffer": jpeg_of_a_sneaker(test_split)}
    )
    # Every tab renders its content; look only inside the upload tab.
    panel = page.get_by_role("tabpanel", name=re.compile("Upload"))
    panel.get_by_text(re.compile(r"^Prediction: ")).wait_for()
    wait_for_charts(page)
    panel.get_by_text("What the model sees (28×28)").first.wait_for()
    top3 = panel.get_by_text(re.compile(r"^Top 3:")).locator("xpath=..")
    top3.wait_for()
    assert top3.inner_text().startswith("Top 3: Sneaker"), top3.inner_text()
    assert_no_exception(page)
    screenshot(page, "classify", full_page=False)


# A pair of trousers, drawn solid as the dataset's are: a waistband, then each leg as two
# strokes side by side, in canvas fractions ((x0, y0), (x1, y1)).
TROUSERS = [
    ((0.30, 0.10), (0.70, 0.10)),
    ((0.34, 0.12), (0.26, 0.90)),
    ((0.44, 0.16), (0.36, 0.90)),
    ((0.66, 0.12), (0.74, 0.90)),
    ((0.56, 0.16), (0.64, 0.90)),
]


def draw_like_a_person(pg, box: dict, strokes) -> float:
    """Press, drag and release each stroke in ~0.2 s, as a hand does; returns seconds taken.

    The canvas sends the drawing 200 ms after the pen is lifted, so at this pace several
    strokes arrive while the app is still answering the earlier ones: the case that
    used to leave the page on the first stroke's answer.
    """
    start = time.monotonic()
    for (x0, y0), (x1, y1) in strokes:
        pg.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        pg.mouse.down()
        for k in range(1, 9):
            f = k / 8
            pg.mouse.move(
                box["x"] + (x0 + (x1 - x0) * f) * box["width"],
                box["y"] + (y0 + (y1 - y0) * f) * box["height"],
            )
            pg.wait_for_timeout(15)
        pg.mouse.up()
        pg.wait_for_timeout(40)
    return time.monotonic() - start


def test_sketch_at_a_persons_pace_predicts_the_whole_drawing(page):
    failed = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    open_page(page, "", "What's this garment?")
    # The first view's run ends with the test sample's answer (on a cold server it loads
    # the model and classifies the test set first): drawing starts after it, as a person
    # who looks at the page first would.
    page.get_by_text(re.compile(r"^True label")).wait_for(state="attached")
    page.get_by_role("tab", name="Sketch").click()
    panel = page.get_by_role("tabpanel", name=re.compile("Sketch"))
    canvas = panel.locator("canvas.upper-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box and box["width"] > 100
    seconds = draw_like_a_person(page, box, TROUSERS)
    print(f"drew {len(TROUSERS)} strokes in {seconds:.2f} s")
    # The page names the drawing its answer is for: wait for the whole one.
    try:
        panel.get_by_text(f"Your drawing ({len(TROUSERS)} strokes)").wait_for()
    except sync_api.TimeoutError:
        screenshot(page, "sketch-timeout")
        captions = panel.locator("[data-testid='stImageCaption']").all_inner_texts()
        raise AssertionError(f"no answer for the whole drawing; captions: {captions}") from None
    headline = panel.get_by_text(re.compile(r"^Prediction: "))
    assert headline.inner_text().startswith("Prediction: Trouser"), headline.inner_text()
    widths = panel.locator("[data-testid='stImageContainer'] img").evaluate_all(
        "els => els.map(e => e.naturalWidth)"
    )
    assert widths and all(w > 0 for w in widths), f"blank images in the result: {widths}"
    wait_for_charts(page)
    assert_no_exception(page)
    assert not failed, f"requests that failed: {failed}"
    screenshot(page, "sketch")


def test_test_sample_shows_true_label(page, test_split):
    open_page(page, "", "What's this garment?")
    page.get_by_role("tab", name="Test sample").click()
    shown = page.get_by_text(re.compile(r"^True label: "))
    shown.wait_for()
    wait_for_charts(page)
    assert shown.inner_text().endswith(CLASS_NAMES[int(test_split.labels[0])])
    assert_no_exception(page)
    screenshot(page, "test-sample")


def test_clicking_a_confusion_cell_shows_its_samples(page):
    open_page(page, "confusion", "Confusion matrix")
    wait_for_charts(page)
    # The clickable layer: one invisible marker per cell, in row-major (true, predicted)
    # order; click Coat (4) predicted as Pullover (2).
    marker = page.locator(".js-plotly-plot .scatterlayer path.point").nth(4 * 10 + 2)
    box = marker.bounding_box()
    assert box, "no clickable cell markers in the heatmap"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text(re.compile(r"test images of Coat predicted as Pullover")).wait_for()
    page.get_by_role("img", name=re.compile("Test images, left to right")).or_(
        page.get_by_text(re.compile("Test images, left to right"))
    ).first.wait_for()
    assert_no_exception(page)
    screenshot(page, "confusion")


@pytest.mark.parametrize(
    ("path", "title", "charts"),
    [("mistakes", "Mistakes explorer", 0), ("models", "Models", 3), ("dataset", "The dataset", 1)],
)
def test_other_pages_open_cleanly(page, path, title, charts):
    open_page(page, path, title)
    if path == "mistakes":
        page.get_by_text(re.compile(r"matching mistakes")).wait_for()
        page.get_by_role("button", name="Inspect").first.click()
        page.get_by_role("heading", name=re.compile(r"^Test image #")).wait_for()
        charts = 1
    if charts:
        wait_for_charts(page, charts)
    assert_no_exception(page)
    screenshot(page, path)
