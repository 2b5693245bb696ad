"""The hosted demo: the model loaded when the server starts, and K app processes behind nginx.

One deployment for the module, as `python -m fashion serve --processes 2` starts it:
nginx in front of two `streamlit run streamlit_app.py` processes. Starting an app process
(TensorFlow, a model, the test set) is the expensive part, so it is done once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from fashion import card
from fashion.serving import serve

pytestmark = [pytest.mark.slow]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
if not Path(NGINX).exists():
    pytest.skip("nginx is missing (install it with `make nginx`)", allow_module_level=True)

ROUTE_COOKIE = "fashion_route"


def get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("serve")
    port, *app_ports = (serve.free_port() for _ in range(3))
    with serve.start(2, port, run_dir, app_ports=app_ports) as running:
        yield running


def test_the_model_is_loaded_before_the_first_visitor_asks(deployment):
    """Right after the start, before any browser: every app process says it is ready, and
    Streamlit's own metrics show the model in the process-wide cache with no visitor yet."""
    model = card.default_name()
    for port in deployment.app_ports:
        status, _, body = get(f"http://127.0.0.1:{port}{serve.READY_PATH}")
        assert status == 200
        report = json.loads(body)
        assert (report["state"], report["model"]) == ("ready", model)
        assert report["settings"] == serve.public_settings()  # what deploy/public.toml says
        _, _, metrics = get(f"http://127.0.0.1:{port}/_stcore/metrics")
        # Counted by Streamlit, not by us: the loader ran (a miss) and holds a Classifier.
        loader = r'cache="fashion\.ui\.state\.\w*classifier"'
        assert re.search(
            rf'cache_memory_bytes\{{cache_type="st_cache_resource",{loader}\}}', metrics
        )
        assert re.search(rf'cache_lookups_total\{{{loader},.*result="miss"\}} 1\b', metrics)
    # ...and nobody has opened a session yet (the only requests were health checks).
    log = deployment.access_log.read_text()
    assert "/_stcore/stream" not in log


def test_nginx_serves_the_frontend_compressed_and_cached(deployment):
    _, headers, html = get(deployment.url + "/", {"Accept-Encoding": "identity"})
    assert headers.get("Cache-Control") == "no-cache"  # a new Streamlit version shows at once
    bundle = re.search(r'src="\.?/?(static/js/[^"]+\.js)"', html)
    assert bundle, "no script bundle in index.html"
    _, headers, _ = get(f"{deployment.url}/{bundle.group(1)}", {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert "immutable" in headers.get("Cache-Control", "")
    assert f"upstream=- 200 GET /{bundle.group(1)}" in deployment.access_log.read_text()


def test_a_balancer_alone_in_front_of_apps_on_other_machines(deployment, tmp_path):
    """`serve --backends HOST:PORT ...`: nginx only, for apps started elsewhere (here: the
    module's two app processes, standing in for two machines)."""
    backends = [f"127.0.0.1:{p}" for p in deployment.app_ports]
    with serve.start(port=serve.free_port(), run_dir=tmp_path, backends=backends) as balancer:
        assert balancer.apps == [] and balancer.nginx is not None
        status, _, body = get(balancer.url + serve.READY_PATH)
        assert status == 200 and json.loads(body)["state"] == "ready"
        _, headers, _ = get(balancer.url + "/", {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip"  # the frontend, from nginx's disk
        either = "|".join(map(re.escape, backends))
        log = balancer.access_log.read_text()
        assert re.search(rf"upstream=({either}) 200 GET /api/ready", log)


def test_the_server_entry_applies_the_public_settings_itself():
    """A Streamlit host passes no flags: streamlit_app.py sets deploy/public.toml itself."""
    from streamlit import config

    from fashion.data.uploads import MAX_UPLOAD_BYTES
    from fashion.ui import warmup

    settings = serve.public_settings()
    assert settings["server.fileWatcherType"] == "none" and settings["server.headless"] is True
    assert settings["server.maxUploadSize"] * 2**20 == MAX_UPLOAD_BYTES  # Streamlit's MiB
    before = {key: config.get_option(key) for key in settings}
    try:
        config.set_option("server.fileWatcherType", "poll")  # as .streamlit/config.toml has it
        warmup.apply_public_settings()
        assert {key: config.get_option(key) for key in settings} == settings
    finally:
        for key, value in before.items():
            config.set_option(key, value)


def _cookie_for_each_process(deployment) -> list[str]:
    """A route cookie value per app process: nginx hashes the cookie, so try values and
    read which process each one reached (health checks, cheap) from the access log."""
    found: dict[str, str] = {}
    for k in range(200):
        value = f"test-{k}"
        get(f"{deployment.url}/_stcore/health", {"Cookie": f"{ROUTE_COOKIE}={value}"})
        # This request's own line (nginx may write it a moment after answering; the last
        # line then was an earlier request's, and both cookies seemed to reach one process).
        pattern = re.compile(rf"route={re.escape(value)} upstream=(\S+)")
        for _ in range(100):
            if m := pattern.search(deployment.access_log.read_text()):
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"no access-log line for route {value}")
        upstream = m.group(1)
        found.setdefault(upstream, value)
        if len(found) == len(deployment.app_ports):
            return list(found.values())
    raise AssertionError(f"200 cookies all reached {list(found)}")


@pytest.mark.browser
def test_two_visitors_behind_nginx_each_get_their_prediction(deployment):
    """Two browsers, one on each app process: each uploads a photo and gets its answer,
    and every request of each visitor reaches that visitor's process."""
    from benchmarks import load

    if not load.CHROMIUM.exists():
        pytest.skip(f"{load.CHROMIUM} is missing (install it with `make browser`)")
    routes = _cookie_for_each_process(deployment)
    photos = load.photos(2)

    async def two_visits() -> list:
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=str(load.CHROMIUM), args=load.CHROMIUM_ARGS
            )
            try:
                return await asyncio.gather(
                    *(
                        load.visit(
                            browser,
                            deployment.url,
                            photo,
                            cookies=[{"name": ROUTE_COOKIE, "value": route, "url": deployment.url}],
                        )
                        for route, (_, photo) in zip(routes, photos, strict=True)
                    )
                )
            finally:
                await browser.close()

    visits = asyncio.run(two_visits())
    assert [v.error for v in visits] == [None, None]
    assert [v.route for v in visits] == routes
    spread = load.affinity(deployment, visits)
    assert spread["one_process"] == 2, spread  # each visitor's requests on one process
    assert len(spread["per_process"]) == 2, spread  # and both processes served one


def test_the_api_answers_through_nginx_per_client(deployment, test_split):
    """POST /api/predict through the balancer: answered by one of the app processes, and
    the rate limit counts the address nginx passes on (not nginx's own)."""
    import requests

    from fashion.data import renders
    from fashion.serving import api

    photo = renders.shop_photo(test_split.images[0])
    r = requests.post(f"{deployment.url}/api/predict", data=photo, timeout=60,
                      headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["model"] == card.default_name()
    assert re.search(
        r"upstream=127\.0\.0\.1:\d+ 200 POST /api/predict", deployment.access_log.read_text()
    )
    # nginx appends the caller's address; a forged one in front of it changes nothing.
    # Each app process keeps its own count and nginx spreads API requests over both, so
    # a flood of 3 x the rate (tokens come back while it runs) puts more than one
    # minute's worth on at least one of them.
    forged = {"X-Forwarded-For": "203.0.113.50"}
    codes = []
    while 429 not in codes and len(codes) < 3 * api.RATE_PER_MINUTE:
        r = requests.get(f"{deployment.url}/api/models", headers=forged, timeout=30)
        codes.append(r.status_code)
    assert codes[-1] == 429, codes  # all came from 127.0.0.1, whatever they claimed
    assert len(codes) > api.RATE_PER_MINUTE
