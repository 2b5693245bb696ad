"""End to end in a real browser: `streamlit run app.py` driven by Playwright's Chromium.

What AppTest cannot see: the first view as a visitor gets it, the canvas component (real
mouse strokes at a person's pace), a real upload, the camera (Chromium's fake device),
a click on the confusion-matrix heatmap, the detail dialog's place on the screen, links,
page switches, the dark theme, a phone's layout, and every request the page makes (none
may leave the server: the demo works offline).

Every page is photographed, on a desktop and on a phone, into test-artifacts/;
`FASHION_DOCS=1 pytest tests/test_browser.py` also copies the pictures into docs/ (the
README shows them).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from fashion.classes import CLASS_NAMES
from tests.browser_helpers import (
    ARTIFACTS,
    DESKTOP,
    DOCS,
    PHONE,
    WARM_MS,
    chromium,
    served,
    sync_api_or_skip,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = sync_api_or_skip()

# Generous: pages are niced below whatever else the machine is doing.
SLOW_MS = 180_000
# A camera for the Camera tab: Chromium's built-in fake device, allowed without a prompt.
MEDIA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="module")
def base_url():
    with served("streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api, MEDIA_ARGS) as b:
        yield b


@pytest.fixture(scope="module")
def warm(browser, base_url):
    """One first view of the fresh server, so each test's time limits are about the test."""
    context = browser.new_context(viewport=DESKTOP, base_url=base_url)
    pg = context.new_page()
    pg.set_default_timeout(WARM_MS)
    pg.goto("/")
    # The whole answer, not its headline: the note under it needs the model's answers on
    # all 10k test images, a pass of 20+ s this server makes once. A test that came in
    # earlier waited for it inside its own first answer (the sketch then showed the first
    # stroke's answer for as long, as if the later strokes were lost).
    pg.get_by_text(re.compile(r"^Probabilities: ")).first.wait_for()
    context.close()
    return base_url


def new_page(browser, base_url, **context_args):
    """A page in a fresh context (a new visitor) that records every request leaving the
    server (`pg.foreign`)."""
    context = browser.new_context(base_url=base_url, **({"viewport": DESKTOP} | context_args))
    pg = context.new_page()
    pg.set_default_timeout(SLOW_MS)
    server = urlsplit(base_url).netloc
    pg.foreign = []

    def record(request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != server:
            pg.foreign.append(request.url)

    pg.on("request", record)
    return pg


@pytest.fixture
def page(browser, warm):
    pg = new_page(browser, warm)
    try:
        yield pg
    finally:
        pg.context.close()
    # Every test checks this: nothing the page loads comes from another host.
    assert not pg.foreign, f"requests to other hosts: {pg.foreign}"


def open_page(pg, path: str, title: str) -> None:
    pg.goto(f"/{path}")
    pg.get_by_role("heading", name=title).wait_for()


def open_tab(pg, name: str):
    """Click an input tab of the Classify page; returns its panel. Only the open tab
    runs, so its content arrives after the rerun the click starts."""
    pg.get_by_role("tab", name=name).click()
    panel = pg.get_by_role("tabpanel", name=re.compile(name))
    panel.wait_for()
    return panel


def assert_no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.locator('[data-testid="stAlertContentError"]').count() == 0


def wait_for_charts(pg, n: int = 1) -> None:
    """Plotly draws asynchronously after the element arrives; wait for its SVG."""
    pg.locator(".js-plotly-plot .main-svg").nth(n - 1).wait_for()


def url_params(pg) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(pg.url).query).items()}


def wait_for_params(pg, **expected: str | None) -> dict[str, str]:
    """Until the URL has these query parameters (None: any value); the app writes them at
    the end of a run, a moment after the page shows its answer."""
    pg.wait_for_function(
        """expected => {
            const q = new URLSearchParams(location.search);
            return Object.entries(expected)
                .every(([k, v]) => q.has(k) && (v === null || q.get(k) === v));
        }""",
        arg=expected,
    )
    return url_params(pg)


def wait_until_idle(pg) -> None:
    """Until the run has ended and every picture has arrived: no spinner, skeleton or
    half-loaded image is left to move what lies below it."""
    pg.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
            && !document.querySelector('[data-testid="stSpinner"]')
            && !document.querySelector('[data-testid="stSkeleton"]')
            && [...document.querySelectorAll('[data-testid="stMain"] img')]
                .every(i => i.complete && i.naturalWidth > 0)"""
    )


def screenshot(pg, name: str, full_page: bool = True) -> None:
    """Save test-artifacts/NAME.png, and docs/NAME.png when FASHION_DOCS is set.

    Streamlit scrolls inside its own container, so Playwright's full_page sees only the
    viewport; for a whole page the viewport is stretched to the content first.
    """
    wait_until_idle(pg)  # no placeholders in the picture
    pg.wait_for_timeout(800)  # let the last chart transition finish
    path = ARTIFACTS / f"{name}.png"
    viewport = pg.viewport_size
    if full_page:
        # Until the height stops changing: charts re-lay out, and text re-wraps, on resize.
        height = 0
        for _ in range(4):
            new = pg.evaluate(
                "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
            )
            if new == height:
                break
            height = new
            pg.set_viewport_size({"width": viewport["width"], "height": min(int(height), 5000)})
            pg.wait_for_timeout(1200)
    pg.screenshot(path=path)
    pg.set_viewport_size(viewport)
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


# ------------------------------------------------------------------------ first view


def test_first_view_shows_a_prediction_without_a_click_then_an_example(page, test_split):
    from fashion.data.examples import TEST_INDICES

    page.goto("/")
    panel = page.get_by_role("tabpanel", name=re.compile("Examples"))
    # No click: an example is already classified.
    panel.get_by_text(re.compile(r"^Prediction: ")).wait_for()
    wait_for_charts(page)
    assert_no_exception(page)
    # The URL names the view.
    wait_for_params(page, mode="examples", example=None, model=None)
    screenshot(page, "classify")
    # The result downloads as the 28x28 image the model saw.
    with page.expect_download() as download:
        panel.get_by_role("button", name=re.compile("28×28 image")).click()
    im = Image.open(download.value.path())
    assert (im.format, im.size, im.mode) == ("PNG", (28, 28), "L")
    # A click on another example classifies it.
    index = TEST_INDICES[0]
    panel.get_by_role("button", name=f"Test #{index}").click()
    panel.get_by_text(f"True label: {CLASS_NAMES[test_split.labels[index]]}").wait_for()
    wait_for_params(page, example=f"test-{index}")
    assert_no_exception(page)


def test_upload_a_jpeg_shows_its_prediction_and_chart(page, test_split):
    open_page(page, "", "What's this garment?")
    panel = open_tab(page, "Upload")
    panel.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "sneaker.jpg", "mimeType": "image/jpeg", "buffer": jpeg_of_a_sneaker(test_split)}
    )
    panel.get_by_text(re.compile(r"^Prediction: ")).wait_for()
    wait_for_charts(page)
    panel.get_by_text("What the model sees (28×28)").first.wait_for()
    top3 = panel.get_by_text(re.compile(r"^Top 3:")).locator("xpath=..")
    top3.wait_for()
    assert top3.inner_text().startswith("Top 3: Sneaker"), top3.inner_text()
    assert_no_exception(page)
    screenshot(page, "upload", full_page=False)


def _upload_two_garments(pg, test_split) -> tuple:
    """Trousers on a wooden floor with a bag beside them; the page's answer for it."""
    from fashion.data import renders

    photo, box = renders.two_garments_at_home(test_split.images[2], test_split.images[18], 3)
    open_page(pg, "", "What's this garment?")
    panel = open_tab(pg, "Upload")
    panel.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "floor.png", "mimeType": "image/png", "buffer": photo}
    )
    panel.get_by_text(re.compile(r"^Prediction: Trouser")).wait_for()
    wait_for_charts(pg)
    return panel, box


def test_a_box_slid_round_the_other_garment_redoes_the_cut_out(browser, warm, test_split):
    """A home photo is answered; sliding a box round the bag beside the trousers turns
    the answer into Bag, and the page says the cut-out came from the box."""
    page = new_page(browser, warm)
    try:
        _drag_a_box(page, test_split)
    finally:
        page.context.close()


def _slide_range(pg, slider, lo: int, hi: int, start: tuple = (5, 95)) -> None:
    """Move a range slider's two thumbs from `start` to `lo` and `hi` with the arrow
    keys (a keyboard user's way; a mouse drag's end point depends on the layout)."""
    slider.scroll_into_view_if_needed()
    thumbs = slider.get_by_role("slider")
    for k, value in ((1, hi), (0, lo)):  # the upper first: the thumbs never cross
        thumbs.nth(k).focus()
        key = "ArrowRight" if value > start[k] else "ArrowLeft"
        for _ in range(abs(value - start[k])):
            pg.keyboard.press(key)
        wait_until_idle(pg)
    shown = slider.get_by_test_id("stSliderThumbValue").all_inner_texts()
    assert shown == [f"{lo}%", f"{hi}%"], shown


def _drag_a_box(page, test_split) -> None:
    panel, box = _upload_two_garments(page, test_split)
    screenshot(page, "home-photo", full_page=False)
    panel.get_by_text("Wrong cut-out? Put a box round the garment").click()
    sliders = panel.locator('[data-testid="stSlider"]')
    pct = [round(100 * v) for v in box]
    _slide_range(page, sliders.filter(has_text="Left and right"), pct[0], pct[2])
    _slide_range(page, sliders.filter(has_text="Top and bottom"), pct[1], pct[3])
    wait_until_idle(page)  # a click during the sliders' rerun can be lost
    panel.get_by_text("Cut out inside this box").click()
    try:
        panel.get_by_text("Cut out inside your box.").wait_for(timeout=60_000)
    except sync_api.TimeoutError:
        screenshot(page, "home-photo-box-failed")
        raise
    panel.get_by_text(re.compile(r"^Prediction: Bag")).wait_for()
    assert_no_exception(page)
    screenshot(page, "home-photo-box", full_page=True)


def test_a_home_photo_on_a_phone(browser, warm, test_split):
    pg = new_page(browser, warm, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        _upload_two_garments(pg, test_split)
        assert_no_exception(pg)
        screenshot(pg, "home-photo-phone", full_page=False)
    finally:
        pg.context.close()


# -------------------------------------------------------------------------- sketch

# A pair of trousers, drawn solid as the dataset's are: a waistband, then each leg as two
# strokes side by side, in canvas fractions ((x0, y0), (x1, y1)).
TROUSERS = [
    ((0.30, 0.10), (0.70, 0.10)),
    ((0.34, 0.12), (0.26, 0.90)),
    ((0.44, 0.16), (0.36, 0.90)),
    ((0.66, 0.12), (0.74, 0.90)),
    ((0.56, 0.16), (0.64, 0.90)),
]


def settled_box(locator) -> dict:
    """The element's box once the page around it stops moving: elements still arriving
    above it shift it, and a stroke aimed at an old box lands on the page instead."""
    wait_until_idle(locator.page)
    box = locator.bounding_box()
    for _ in range(50):
        locator.page.wait_for_timeout(200)
        now = locator.bounding_box()
        if now == box:
            break
        box = now
    assert box and box["width"] > 100, box
    return box


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
    panel = open_tab(page, "Sketch")
    canvas = panel.locator("canvas.upper-canvas")
    canvas.wait_for()
    panel.get_by_text("Draw a garment above").wait_for()  # the sketch has run: ready
    seconds = draw_like_a_person(page, settled_box(canvas), TROUSERS)
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


# ------------------------------------------------------------------ camera, test image


def test_camera_mode_takes_a_photo_through_the_photo_path(browser, warm):
    pg = new_page(browser, warm, permissions=["camera"])
    try:
        open_page(pg, "", "What's this garment?")
        panel = open_tab(pg, "Camera")
        panel.locator("video").wait_for()
        # The (fake) camera is streaming: a photo now has pixels.
        pg.wait_for_function(
            "() => { const v = document.querySelector('video'); return v && v.videoWidth > 0; }"
        )
        panel.get_by_role("button", name=re.compile("Take photo", re.I)).click()
        # Chromium's fake camera films a test pattern, not a garment: the answer may be a
        # prediction or a clear "cannot be used"; either way the photo went through.
        panel.get_by_text(re.compile(r"^(Prediction: |This file cannot be used)")).wait_for()
        assert pg.locator('[data-testid="stException"]').count() == 0
        screenshot(pg, "camera", full_page=False)
        assert not pg.foreign, f"requests to other hosts: {pg.foreign}"
    finally:
        pg.context.close()


def test_test_sample_shows_true_label(page, test_split):
    open_page(page, "", "What's this garment?")
    panel = open_tab(page, "Test sample")
    shown = panel.get_by_text(re.compile(r"^True label: "))
    shown.wait_for()
    wait_for_charts(page)
    assert shown.inner_text().endswith(CLASS_NAMES[int(test_split.labels[0])])
    wait_for_params(page, mode="sample", sample="0")
    assert_no_exception(page)
    screenshot(page, "test-sample")


def test_a_link_restores_model_and_sample_and_they_survive_a_page_switch(page, test_split):
    from fashion.card import shipped

    names = [c.name for c in shipped()]
    model = names[1] if len(names) > 1 else names[0]
    page.goto(f"/?model={model}&mode=sample&sample=42")
    caption = page.get_by_text("Test image #42 of 10,000")
    caption.wait_for()
    page.get_by_text(f"True label: {CLASS_NAMES[test_split.labels[42]]}").wait_for()
    picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox").first
    assert picker.input_value().startswith(f"{model} · "), picker.input_value()
    # Away to another page and back by the sidebar: the same model and test image.
    page.get_by_role("link", name="Dataset").click()
    page.get_by_role("heading", name="The dataset").wait_for()
    page.get_by_role("link", name="Classify").click()
    caption.wait_for()
    assert picker.input_value().startswith(f"{model} · "), picker.input_value()
    wait_for_params(page, model=model, mode="sample", sample="42")
    assert_no_exception(page)


# ------------------------------------------------------------ confusion and mistakes


def inspect_in_view(pg) -> None:
    """The detail dialog's heading lies inside the viewport."""
    heading = pg.get_by_role("dialog").get_by_role("heading", name=re.compile(r"^Test image #"))
    heading.wait_for()
    box, view = heading.bounding_box(), pg.viewport_size
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= view["height"], box


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
    assert_no_exception(page)
    screenshot(page, "confusion")
    # Its thumbnails open the same detail as the Mistakes explorer's.
    page.get_by_role("button", name="Inspect").first.click()
    inspect_in_view(page)


def test_inspect_on_a_lower_row_shows_its_detail_in_view(page):
    open_page(page, "mistakes", "Mistakes explorer")
    page.get_by_text(re.compile(r"matching mistakes")).wait_for()
    page.get_by_role("button", name="Inspect").nth(23).wait_for()  # a full page of tiles
    screenshot(page, "mistakes")
    last = page.get_by_role("button", name="Inspect").last
    last.scroll_into_view_if_needed()
    last.click()
    inspect_in_view(page)
    wait_for_charts(page)
    assert_no_exception(page)
    screenshot(page, "mistakes-inspect", full_page=False)


# ------------------------------------------------------------ theme, phone, every page


def test_dark_theme_follows_the_system(browser, warm):
    pg = new_page(browser, warm, color_scheme="dark")
    try:
        open_page(pg, "", "What's this garment?")
        pg.get_by_text(re.compile(r"^Prediction: ")).first.wait_for()
        wait_for_charts(pg)
        background = pg.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]'))"
            ".backgroundColor"
        )
        r, g, b = (int(v) for v in re.findall(r"\d+", background)[:3])
        assert (0.299 * r + 0.587 * g + 0.114 * b) < 60, background  # a dark page
        heading = pg.get_by_role("heading", name="What's this garment?")
        colour = heading.evaluate("e => getComputedStyle(e).color")
        r, g, b = (int(v) for v in re.findall(r"\d+", colour)[:3])
        assert (0.299 * r + 0.587 * g + 0.114 * b) > 180, colour  # light text on it
        screenshot(pg, "classify-dark")
        assert not pg.foreign, f"requests to other hosts: {pg.foreign}"
    finally:
        pg.context.close()


def test_on_a_phone_the_answer_is_near_the_input(browser, warm):
    pg = new_page(browser, warm, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        pg.goto("/")
        headline = pg.get_by_text(re.compile(r"^Prediction: ")).first
        headline.wait_for()
        wait_for_charts(pg)
        top = pg.evaluate("e => e.getBoundingClientRect().top", headline.element_handle())
        chart = pg.locator(".js-plotly-plot").first
        chart_top = pg.evaluate("e => e.getBoundingClientRect().top", chart.element_handle())
        # The chart follows the answer within one phone screen, not two.
        assert chart_top - top < PHONE["height"], (top, chart_top)
        # Every way in is in sight: the tab bar wraps rather than hiding tabs off-screen.
        tabs = pg.get_by_role("tab").all()
        assert len(tabs) == 5
        for tab in tabs:
            box = tab.bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], (
                tab.inner_text(),
                box,
            )
        screenshot(pg, "classify-phone")
        assert not pg.foreign, f"requests to other hosts: {pg.foreign}"
    finally:
        pg.context.close()


@pytest.mark.parametrize(
    ("path", "title", "charts"),
    [("confusion", "Confusion matrix", 1), ("mistakes", "Mistakes explorer", 0),
     ("models", "Models", 3), ("dataset", "The dataset", 0)],
)  # fmt: skip
def test_other_pages_on_a_phone(browser, warm, path, title, charts):
    pg = new_page(browser, warm, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        open_page(pg, path, title)
        if path == "mistakes":
            pg.get_by_role("button", name="Inspect").nth(23).wait_for()
        if charts:
            wait_for_charts(pg, charts)
        if path == "dataset":
            pg.get_by_text("Samples of each class").wait_for()
        assert_no_exception(pg)
        screenshot(pg, f"{path}-phone")
        assert not pg.foreign, f"requests to other hosts: {pg.foreign}"
    finally:
        pg.context.close()


@pytest.mark.parametrize(
    ("path", "title", "charts"), [("models", "Models", 3), ("dataset", "The dataset", 0)]
)
def test_other_pages_open_cleanly(page, path, title, charts):
    open_page(page, path, title)
    if charts:
        wait_for_charts(page, charts)
    if path == "dataset":
        page.get_by_text("Samples of each class").wait_for()
    assert_no_exception(page)
    screenshot(page, path)
