"""The Map, Model vs model and Playground pages in a real browser (`streamlit run app.py`
driven by Playwright's Chromium): a real lasso on the map, a real upload placed on it,
and two browser sessions training at once.

Pictures land in test-artifacts/; `FASHION_DOCS=1 pytest tests/test_browser_explore.py`
also copies them into docs/ (desktop 1400x900 and phone 390x844).
"""

from __future__ import annotations

import io
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from fashion.training.jobs import HARD_LIMIT_ENV
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

SLOW_MS = 240_000  # pages are niced below whatever else the machine is doing


# The training worker is niced below everything: on a machine busy with other work (a
# training run, other tests) its wall time stretches, so the server allows it more.
PATIENT_LIMIT_S = 1200


@pytest.fixture(scope="module")
def base_url():
    with served("streamlit-explore.log", {HARD_LIMIT_ENV: str(PATIENT_LIMIT_S)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as b:
        yield b


@pytest.fixture(scope="module")
def warm(browser, base_url):
    """One first view of the fresh server, so each test's time limits are about the test."""
    pg = new_page(browser, base_url)
    pg.set_default_timeout(WARM_MS)
    try:
        open_page(pg, "map", "Map of the test set")
        map_chart(pg)
    finally:
        pg.context.close()
    return base_url


def new_page(browser, base_url, viewport=DESKTOP):
    """A new browser context: a new Streamlit session."""
    context = browser.new_context(viewport=viewport, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(SLOW_MS)
    return page


@pytest.fixture
def page(browser, warm):
    pg = new_page(browser, warm)
    try:
        yield pg
    finally:
        pg.context.close()


def open_page(pg, path: str, title: str) -> None:
    pg.goto(f"/{path}")
    pg.get_by_role("heading", name=title).wait_for()


def assert_no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.locator('[data-testid="stAlertContentError"]').count() == 0


def screenshot(pg, name: str) -> None:
    """The whole page into test-artifacts/NAME.png (and docs/ with FASHION_DOCS=1).

    Streamlit scrolls inside its own container, so the viewport is stretched to the
    content first, then put back.
    """
    viewport = pg.viewport_size
    pg.wait_for_timeout(800)
    height = pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    pg.set_viewport_size({"width": viewport["width"], "height": min(int(height), 4000)})
    pg.wait_for_timeout(1500)  # plotly re-lays out on resize
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=path)
    pg.set_viewport_size(viewport)
    if os.environ.get("FASHION_DOCS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def map_chart(pg):
    chart = pg.locator(".js-plotly-plot").first
    chart.locator(".main-svg").first.wait_for()
    return chart


def jpeg_of_a_bag(test_split) -> bytes:
    """A 'product photo' the test makes: a bag, dark on white, enlarged, off-centre."""
    img = test_split.images[np.flatnonzero(test_split.labels == 8)[2]]
    big = Image.fromarray(255 - img).resize((300, 300), Image.Resampling.BICUBIC)
    photo = Image.new("L", (460, 380), 255)
    photo.paste(big, (100, 40))
    out = io.BytesIO()
    photo.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_map_a_lasso_shows_its_images_and_an_upload_lands_on_it(page, test_split):
    open_page(page, "map", "Map of the test set")
    chart = map_chart(page)
    page.get_by_text(re.compile(r"of 10,000 images in colour")).wait_for()
    box = chart.locator(".nsewdrag").first.bounding_box()  # plotly's drag surface
    assert box and box["width"] > 200
    # The lasso is a tool in the chart's toolbar (a drag pans, so a click can select).
    chart.hover()
    chart.locator('[data-title="Lasso Select"]').click()
    # A lasso round the middle of the map: press, trace a closed loop, release.
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    r = min(box["width"], box["height"]) * 0.25  # wide: the map has gaps
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for k in range(1, 25):
        angle = 2 * np.pi * k / 24
        page.mouse.move(cx + r * np.cos(angle), cy + r * np.sin(angle), steps=3)
    page.mouse.up()
    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected images?$"))
    heading.wait_for()
    assert int(heading.inner_text().split()[0].replace(",", "")) > 0
    inspect = page.get_by_role("button", name="Inspect")
    inspect.first.wait_for()
    assert inspect.count() >= 1
    inspect.first.click()
    page.get_by_role("heading", name=re.compile(r"^Test image #\d+")).wait_for()
    assert_no_exception(page)
    screenshot(page, "map-selection")
    page.keyboard.press("Escape")  # close the detail dialog
    page.get_by_role("heading", name=re.compile(r"^Test image #\d+")).wait_for(state="hidden")
    # Your own photo on the map: a star among its nearest test images.
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        {"name": "bag.jpg", "mimeType": "image/jpeg", "buffer": jpeg_of_a_bag(test_split)}
    )
    said = page.locator('[data-testid="stMarkdownContainer"]', has_text="lands here").first
    said.wait_for()
    lands = said.inner_text()
    assert "Bag" in lands, lands
    chart.get_by_text("your image").first.wait_for()  # the star's legend entry
    page.get_by_text(re.compile(r"^#\d+ · Bag$")).first.wait_for()
    assert_no_exception(page)


def test_map_a_click_on_a_dot_opens_its_image_and_detail(page):
    open_page(page, "map", "Map of the test set")
    chart = map_chart(page)
    page.get_by_text(re.compile(r"of 10,000 images in colour")).wait_for()
    # Where plotly drew the first dot of a class trace, and which test image it is.
    dot = chart.evaluate(
        """gd => { const fl = gd._fullLayout, fd = gd._fullData[1];
             return {x: fl._size.l + fl.xaxis.l2p(fd.x[0]), y: fl._size.t + fl.yaxis.l2p(fd.y[0]),
                     index: fd.customdata[0]}; }"""
    )
    origin = chart.bounding_box()
    page.mouse.move(origin["x"] + dot["x"], origin["y"] + dot["y"])
    page.mouse.click(origin["x"] + dot["x"], origin["y"] + dot["y"])
    page.get_by_role("heading", name=f"Test image #{dot['index']}").wait_for()
    assert_no_exception(page)
    page.keyboard.press("Escape")
    page.get_by_role("heading", name=re.compile(r"^1 selected image$")).wait_for()


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, ""), (PHONE, "-phone")])
def test_map_and_compare_pictures(browser, warm, viewport, suffix):
    pg = new_page(browser, warm, viewport)
    try:
        open_page(pg, "map", "Map of the test set")
        map_chart(pg)
        assert_no_exception(pg)
        screenshot(pg, f"map{suffix}")
        open_page(pg, "compare", "Model vs model")
        pg.locator(".js-plotly-plot .main-svg").first.wait_for()
        pg.get_by_role("button", name="Inspect").first.wait_for()
        assert_no_exception(pg)
        screenshot(pg, f"compare{suffix}")
    finally:
        pg.context.close()


def set_slider(pg, label: str, key: str) -> None:
    """Move a slider to one end from the keyboard, as a user could."""
    slider = pg.get_by_role("slider", name=label)
    slider.focus()
    pg.keyboard.press(key)


def test_playground_trains_queues_a_second_session_and_classifies(browser, warm):
    first = new_page(browser, warm)
    second = new_page(browser, warm, PHONE)
    try:
        for pg in (first, second):
            open_page(pg, "playground", "Playground: train a net yourself")
            set_slider(pg, "Training images", "Home")  # the smallest subset
            # One epoch: starting TensorFlow alone gives the second session time to queue.
            # For the docs' picture, ten (of 500 images: seconds) draw proper curves.
            set_slider(pg, "Epochs", "End" if os.environ.get("FASHION_DOCS") else "Home")
            pg.wait_for_timeout(1500)
        # The first session trains; the second, pressing Train meanwhile, waits.
        first.get_by_role("button", name="Train").click()
        first.get_by_text(re.compile(r"training stops at")).wait_for()
        second.get_by_role("button", name="Train").click()
        second.get_by_text(re.compile(r"number 1 in the queue")).wait_for()
        assert_no_exception(second)
        screenshot(second, "playground-queue-phone")
        second.get_by_role("button", name="Cancel").click()
        second.get_by_text(re.compile(r"Training was cancelled")).wait_for()
        # The first session's curves grow and the run completes.
        first.get_by_text(re.compile(r" is trained: ")).wait_for(timeout=PATIENT_LIMIT_S * 1000)
        first.locator(".js-plotly-plot .main-svg").first.wait_for()
        assert first.get_by_text("Loss").count() >= 1
        assert_no_exception(first)
        screenshot(first, "playground")
        # Its model classifies on the Classify page, in this session.
        first.get_by_role("button", name="Classify with it").click()
        first.get_by_role("heading", name="What's this garment?").wait_for()
        first.get_by_text(re.compile(r"^(Prediction|Correct|Wrong)")).first.wait_for()
        picker = first.get_by_role("combobox", name="Model (test accuracy)")
        assert picker.input_value().endswith("(yours)"), picker.input_value()
        assert_no_exception(first)
    finally:
        first.context.close()
        second.context.close()


def test_playground_phone_picture(browser, warm):
    pg = new_page(browser, warm, PHONE)
    try:
        open_page(pg, "playground", "Playground: train a net yourself")
        pg.get_by_role("button", name="Train").wait_for()
        assert_no_exception(pg)
        screenshot(pg, "playground-phone")
    finally:
        pg.context.close()
