"""The "unlike the training images" warning, seen in a real browser (issue 12): a shop
photo of a boot gets its answer with no warning; a face drawn on the canvas gets the
warning and still an answer. Screenshots: test-artifacts/ (and docs/ with FASHION_DOCS=1).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fashion.data.renders import shop_photo
from tests.test_browser import (  # noqa: F401 - fixtures, used by name
    base_url,
    browser,
    draw_like_a_person,
    open_page,
    page,
    screenshot,
    wait_for_charts,
    warm,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WARNING = "Unlike the training images"


def _circle(cx: float, cy: float, r: float, steps: int = 8) -> list:
    """A circle as `steps` short strokes (the canvas gets each as the pen lifts)."""
    pts = [
        (cx + r * math.cos(2 * math.pi * k / steps), cy + r * math.sin(2 * math.pi * k / steps))
        for k in range(steps + 1)
    ]
    return list(zip(pts[:-1], pts[1:], strict=True))


# A smiley: the round outline, two eyes, a mouth. Nothing in Fashion-MNIST looks like it.
FACE = [
    *_circle(0.5, 0.5, 0.38),
    ((0.36, 0.38), (0.38, 0.40)),
    ((0.62, 0.38), (0.64, 0.40)),
    ((0.34, 0.62), (0.42, 0.70)),
    ((0.42, 0.70), (0.58, 0.70)),
    ((0.58, 0.70), (0.66, 0.62)),
]


def test_a_boot_photo_gets_its_answer_and_no_warning(page, test_split):  # noqa: F811
    boot = test_split.images[np.flatnonzero(test_split.labels == 9)[0]]
    photo = shop_photo(boot)  # a plain product photo: dark boot, off-white background
    open_page(page, "", "What's this garment?")
    page.get_by_role("tab", name=re.compile("Upload")).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        {"name": "boot.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    panel = page.get_by_role("tabpanel", name=re.compile("Upload"))
    headline = panel.get_by_text(re.compile(r"^Prediction: Ankle boot"))
    headline.wait_for()
    wait_for_charts(page)
    assert panel.get_by_text(WARNING).count() == 0
    screenshot(page, "classify-boot-photo", full_page=False)


def test_a_drawn_face_gets_the_warning_and_still_an_answer(page):  # noqa: F811
    open_page(page, "", "What's this garment?")
    page.get_by_role("tab", name="Sketch").click()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    draw_like_a_person(page, box, FACE)
    panel = page.get_by_role("tabpanel", name=re.compile("Sketch"))
    panel.get_by_text(f"Your drawing ({len(FACE)} strokes)").wait_for()
    panel.get_by_text(WARNING).wait_for()
    assert panel.get_by_text(re.compile(r"^Prediction: ")).count() == 1
    wait_for_charts(page)
    screenshot(page, "classify-face-sketch", full_page=False)
