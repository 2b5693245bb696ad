"""The HTTP API (POST /api/predict, GET /api/models, GET /api/openapi.json) on a real
app server, `streamlit run streamlit_app.py` as a host runs it, with real files.

Each test speaks as its own client: the server trusts X-Forwarded-For from this machine
(where the nginx recipe runs), so a test's address keeps its rate limit its own.
"""

from __future__ import annotations

import io
import json
import re
import select
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from fashion import card
from fashion.classes import CLASS_NAMES
from fashion.data import renders
from fashion.data.bad_files import bad_files, bomb_png
from fashion.serving import api, serve
from fashion.serving.predict import predict_files

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ without a server


def test_a_client_gets_its_rate_a_minute_then_a_wait():
    now = [0.0]
    limiter = api.RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.wait("a") == 0 for _ in range(60))  # a burst of a minute's worth
    wait = limiter.wait("a")
    assert 0.9 < wait <= 1.0  # one token a second comes back
    assert limiter.wait("b") == 0  # another client is not held up
    now[0] += 1.0
    assert limiter.wait("a") == 0 and limiter.wait("a") > 0
    assert api.RateLimiter(0).wait("a") == 0  # 0: no limit


def test_the_limiter_forgets_the_oldest_clients_not_the_newest():
    limiter = api.RateLimiter(1, max_clients=3, clock=lambda: 0.0)
    for c in "abcd":
        assert limiter.wait(c) == 0
    assert limiter.wait("d") > 0  # still remembered
    assert limiter.wait("a") == 0  # forgotten: a fresh bucket


def test_only_a_proxy_on_this_machine_may_name_the_client():
    xff = [(b"x-forwarded-for", b"203.0.113.9, 198.51.100.7")]
    assert api.client_address({"client": ("127.0.0.1", 5), "headers": xff}) == "198.51.100.7"
    # From elsewhere the header is the caller's own word: the peer counts.
    assert api.client_address({"client": ("192.0.2.1", 5), "headers": xff}) == "192.0.2.1"
    assert api.client_address({"client": ("::1", 5), "headers": []}) == "::1"


def test_the_openapi_description_names_every_route_and_limit():
    from fashion.serving.openapi import description

    doc = description(api.limits())
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/api/predict", "/api/models", "/api/openapi.json", "/api/ready"}
    post = doc["paths"]["/api/predict"]["post"]
    assert {p["name"] for p in post["parameters"]} == {"model", "input"}
    assert set(post["requestBody"]["content"]) >= {"image/*", "multipart/form-data"}
    assert {"200", "400", "413", "415", "422", "429"} <= set(post["responses"])
    assert str(api.MAX_BATCH) in doc["info"]["description"]
    json.dumps(doc)  # serialisable as it is served


# ------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = serve.free_port()
    log = tmp_path_factory.mktemp("api") / "app.log"
    proc = serve.start_app(port, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.stop(proc)


def client() -> dict[str, str]:
    """Headers of a fresh client (its own address, as nginx would pass it on)."""
    n = uuid.uuid4().int
    return {"X-Forwarded-For": f"10.{n % 251}.{n // 251 % 251}.{n // 63001 % 251}"}


def _jpeg(img28: np.ndarray, seed: int = 0) -> bytes:
    data, _ = renders.home_photo(img28, np.random.default_rng(seed))
    return data


@pytest.mark.slow
def test_a_photo_answers_as_predict_json_does(server, test_split, tmp_path):
    data = renders.shop_photo(test_split.images[0])
    r = requests.post(f"{server}/api/predict", data=data,
                      headers=client() | {"Content-Type": "image/jpeg"}, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    answer = r.json()
    path = tmp_path / "shirt.jpg"
    path.write_bytes(data)
    out = io.StringIO()
    assert predict_files([str(path)], as_json=True, out=out) == 0
    cli = json.loads(out.getvalue())
    # The same Classifier.predict: the same class, probabilities and flag as the CLI.
    assert answer["class"] == cli["class"] and answer["label"] == cli["label"]
    np.testing.assert_allclose(answer["probabilities"], cli["probabilities"], atol=1e-6)
    assert answer["not_garment"] == cli["not_garment"]
    assert answer["model"] == card.default_name() and answer["input"] == "photo"
    assert answer["views"] == card.read(card.default_name()).views
    assert answer["class"] == CLASS_NAMES[test_split.labels[0]]


@pytest.mark.slow
def test_a_batch_answers_each_file_in_order_and_names_bad_ones(server, test_split):
    idx = [1, 2, 3]
    files = [("file", (f"g{i}.jpg", _jpeg(test_split.images[i], i), "image/jpeg")) for i in idx]
    files.insert(1, ("file", ("notes.png", b"Just some notes.\n", "image/png")))
    r = requests.post(f"{server}/api/predict", files=files, headers=client(), timeout=60)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [x["file"] for x in doc["results"]] == ["g1.jpg", "notes.png", "g2.jpg", "g3.jpg"]
    assert "error" in doc["results"][1] and "text" in doc["results"][1]["error"]
    for x in doc["results"][:1] + doc["results"][2:]:
        assert len(x["probabilities"]) == 10 and abs(sum(x["probabilities"]) - 1) < 1e-6
    assert doc["model"] == card.default_name()


@pytest.mark.slow
def test_the_three_input_paths_and_another_model(server, test_split):
    raw = io.BytesIO()
    Image.fromarray(test_split.images[5]).save(raw, "PNG")
    r = requests.post(f"{server}/api/predict?input=dataset&model=cnn-basic", data=raw.getvalue(),
                      headers=client() | {"Content-Type": "image/png"}, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["model"], r.json()["input"]) == ("cnn-basic", "dataset")
    assert r.json()["class"] == CLASS_NAMES[test_split.labels[5]]
    canvas = renders.silhouette_canvas(test_split.images[5])
    drawing = io.BytesIO()
    Image.fromarray(canvas).save(drawing, "PNG")
    r = requests.post(f"{server}/api/predict?input=sketch", data=drawing.getvalue(),
                      headers=client() | {"Content-Type": "image/png"}, timeout=60)  # fmt: skip
    assert r.status_code == 200 and r.json()["input"] == "sketch", r.text
    # A photo is not a 28x28 dataset image: said so, not guessed.
    r = requests.post(f"{server}/api/predict?input=dataset", data=_jpeg(test_split.images[5]),
                      headers=client() | {"Content-Type": "image/jpeg"}, timeout=60)  # fmt: skip
    assert r.status_code == 422 and "28x28" in r.json()["error"]


@pytest.mark.slow
def test_every_broken_upload_is_a_4xx_with_its_reason(server):
    for case, (_, data, word) in bad_files(api.MAX_BODY_BYTES).items():
        r = requests.post(f"{server}/api/predict", data=data,
                          headers=client() | {"Content-Type": "application/octet-stream"},
                          timeout=60)  # fmt: skip
        assert 400 <= r.status_code < 500, (case, r.status_code, r.text)
        error = r.json()["error"]
        assert "Traceback" not in error and 'File "' not in error
        if case == "oversize":
            assert r.status_code == 413
        elif case != "zero-bytes":
            assert word.lower() in error.lower(), (case, error)
    # The same corpus in one multipart batch: every file named, every reason given.
    files = [("file", (name, data, "application/octet-stream"))
             for case, (name, data, _) in bad_files(api.MAX_BODY_BYTES).items()
             if case != "oversize"]  # fmt: skip
    r = requests.post(f"{server}/api/predict", files=files, headers=client(), timeout=60)
    assert r.status_code == 200 and all("error" in x for x in r.json()["results"]), r.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    ["empty", "wrong type", "unknown model", "unknown input", "bomb", "too many", "no file"],
)
def test_bad_requests_say_what_was_wrong(server, test_split, case):
    url, headers, kwargs = f"{server}/api/predict", client(), {}
    png = {"Content-Type": "image/png"}
    expect = {
        "empty": (400, "empty", dict(data=b"", headers=headers | png)),
        "wrong type": (415, "Content-Type", dict(data=b"{}", headers=headers
                                                 | {"Content-Type": "application/json"})),
        "unknown model": (400, "Unknown model", dict(params={"model": "../../etc/passwd"},
                          data=_jpeg(test_split.images[0]), headers=headers | png)),
        "unknown input": (400, "Unknown input", dict(params={"input": "x"},
                          data=_jpeg(test_split.images[0]), headers=headers | png)),
        "bomb": (422, "megapixels", dict(data=bomb_png(), headers=headers | png)),
        "too many": (413, "at most", dict(headers=headers, files=[
            ("file", (f"{k}.png", b"x", "image/png")) for k in range(api.MAX_BATCH + 1)])),
        "no file": (400, "named 'file'", dict(headers=headers, files=[
            ("photo", ("a.png", b"x", "image/png"))])),
    }  # fmt: skip
    status, word, kwargs = expect[case]
    r = requests.post(url, timeout=60, **kwargs)
    assert r.status_code == status, r.text
    assert word in r.json()["error"]


@pytest.mark.slow
def test_a_body_over_the_cap_is_refused_before_it_is_read_whole(server):
    host, port = server.removeprefix("http://").split(":")
    # Declared too big: refused from the header, with nothing of the body sent.
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  b"X-Forwarded-For: 10.200.0.1\r\n"
                  b"Content-Length: 900000000\r\n\r\n")  # fmt: skip
        head = s.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
    # Chunked, no length: the answer comes once the stream passes the cap, long before
    # the 50 MB this client would send.
    sent, answer = 0, ""
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  b"X-Forwarded-For: 10.200.0.2\r\nTransfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        chunk = b"%x\r\n" % 2**16 + b"\0" * 2**16 + b"\r\n"
        while sent < 50 * 2**20 and not answer:
            try:
                s.sendall(chunk)
            except OSError:
                break  # the server answered and closed
            sent += 2**16
            if select.select([s], [], [], 0)[0]:
                answer = s.recv(65536).decode("latin-1")
        if not answer:
            s.settimeout(10)
            answer = s.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert sent < 10 * 2**20


@pytest.mark.slow
def test_a_flood_from_one_client_gets_429_with_retry_after(server):
    headers = client()
    codes = []
    # A minute's worth go through; then 429 (tokens trickle back at RATE/60 a second,
    # so on a slow machine a few more may pass before the first refusal).
    while 429 not in codes and len(codes) < 3 * api.RATE_PER_MINUTE:
        codes.append(requests.get(f"{server}/api/models", headers=headers, timeout=30).status_code)
    assert codes[-1] == 429 and set(codes[:-1]) == {200}
    assert len(codes) > api.RATE_PER_MINUTE
    r = requests.get(f"{server}/api/models", headers=headers, timeout=30)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "a minute" in r.json()["error"]
    assert requests.get(f"{server}/api/models", headers=client(), timeout=30).status_code == 200


@pytest.mark.slow
def test_models_and_openapi(server):
    models = requests.get(f"{server}/api/models", headers=client(), timeout=30).json()
    names = [m["name"] for m in models["models"]]
    assert names == [c.name for c in card.shipped()]
    assert models["models"][0]["default"] and models["classes"] == list(CLASS_NAMES)
    assert all(0.8 < m["test_accuracy"] < 1 for m in models["models"])
    doc = requests.get(f"{server}/api/openapi.json", headers=client(), timeout=30).json()
    assert "/api/predict" in doc["paths"]


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Use it from code", 1)[1].split("\n## ", 1)[0]


@pytest.mark.slow
def test_the_readme_examples_work_as_written(server, test_split, tmp_path):
    section = _readme_section()
    curl = re.search(r"```(?:sh|bash)\n(curl [^`]+)```", section).group(1).strip()
    python = re.search(r"```python\n([^`]+)```", section).group(1)
    port = server.rsplit(":", 1)[1]
    photo = tmp_path / "shirt.jpg"
    photo.write_bytes(renders.shop_photo(test_split.images[0]))
    (tmp_path / "photos").mkdir()
    for k in range(3):
        (tmp_path / "photos" / f"{k}.jpg").write_bytes(renders.shop_photo(test_split.images[k]))
    curl = curl.replace("localhost:8501", f"localhost:{port}").replace("\\\n", " ")
    done = subprocess.run(curl, shell=True, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["class"] == CLASS_NAMES[test_split.labels[0]]
    script = tmp_path / "example.py"
    script.write_text(python.replace("localhost:8501", f"localhost:{port}"))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert CLASS_NAMES[test_split.labels[0]] in done.stdout


@pytest.mark.slow
def test_requests_at_once_all_answer(server, test_split):
    data = [_jpeg(test_split.images[k], k) for k in range(8)]
    results: list[int] = []

    def one(k: int) -> None:
        r = requests.post(f"{server}/api/predict", data=data[k], timeout=120,
                          headers=client() | {"Content-Type": "image/jpeg"})  # fmt: skip
        results.append(r.status_code)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8
