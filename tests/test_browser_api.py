"""A visitor of the pages does not queue behind API traffic: a real browser classifies a
photo on `streamlit run streamlit_app.py` (the hosted entry, which serves the API) while
16 API clients keep the server busy."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
import requests

from fashion.data import preprocess, renders
from fashion.serving import serve
from tests.browser_helpers import ARTIFACTS, DESKTOP, chromium, sync_api_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = sync_api_or_skip()

CLIENTS, PER_CLIENT = 16, 8


@pytest.fixture(scope="module")
def hosted():
    ARTIFACTS.mkdir(exist_ok=True)
    port = serve.free_port()
    proc = serve.start_app(port, ARTIFACTS / "hosted-api.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.stop(proc)


def test_a_page_answers_while_the_api_is_busy(hosted, test_split):
    photos = []
    for k in range(3 * CLIENTS):  # home photos the photo path answers (a few are refused)
        data = renders.home_photo(test_split.images[k], np.random.default_rng(k))[0]
        try:
            preprocess.photo(data)
        except preprocess.InputError:
            continue
        photos.append(data)
    photos = photos[:CLIENTS]
    done, codes, started = [], [], threading.Event()

    def client(k: int) -> None:
        headers = {"Content-Type": "image/jpeg", "X-Forwarded-For": f"10.9.0.{k + 1}"}
        for _ in range(PER_CLIENT):
            r = requests.post(f"{hosted}/api/predict", data=photos[k], headers=headers,
                              timeout=300)  # fmt: skip
            codes.append(r.status_code)
            done.append(time.monotonic())
            started.set()

    with chromium(sync_api) as browser:
        context = browser.new_context(viewport=DESKTOP, base_url=hosted)
        pg = context.new_page()
        pg.set_default_timeout(300_000)
        pg.goto("/")  # the first view, before the burst: the page's own first answer
        pg.get_by_text(re.compile(r"^Prediction: ")).first.wait_for()
        burst = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in burst:
            t.start()
        started.wait(120)
        pg.get_by_role("tab", name="Upload").click()
        panel = pg.get_by_role("tabpanel", name=re.compile("Upload"))
        panel.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": "floor.jpg", "mimeType": "image/jpeg", "buffer": photos[0]}
        )
        panel.get_by_text(re.compile(r"^Prediction: ")).wait_for()
        answered = time.monotonic()
        answered_after = len(done)
        for t in burst:
            t.join()
        context.close()
    # Every API request was answered...
    assert codes == [200] * (CLIENTS * PER_CLIENT)
    # ...and the visitor got the answer while the API still had most of its work queued:
    # the page's run did not wait for the API's queue to drain.
    assert answered < max(done)
    assert answered_after < CLIENTS * PER_CLIENT * 0.75, answered_after
