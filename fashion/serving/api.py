"""The HTTP API on the app's own server: classify from code, no browser.

- `POST /api/predict`: one image as the raw body (`Content-Type: image/...` or
  `application/octet-stream`), or one or more as `multipart/form-data` fields named
  `file` (a batch, up to MAX_BATCH); query parameters `model=` (a shipped model; default
  the best) and `input=photo|sketch|dataset` (the app's three paths). The answer is the
  JSON `python -m fashion predict --json` prints, plus the model, its views and the
  input path: one object for a raw body, `{"model", "views", "input", "results": [...]}`
  for a multipart request (each result an answer or an `error`, in the order sent).
- `GET /api/models`: the shipped models with their test accuracy and card summary.
- `GET /api/openapi.json`: an OpenAPI 3.1 description of the above.

Safe to leave open: a body over MAX_BODY_BYTES is refused from its Content-Length, or
as soon as the stream passes the cap, before it is read whole; every bad input is a
4xx with `{"error": "..."}`, never a traceback; each client (its address, or the one
nginx passes on in X-Forwarded-For when the request comes from this machine) gets
RATE_PER_MINUTE requests a minute, then 429 with Retry-After; predictions run on
API_WORKERS threads of their own with a short queue (503 beyond it), so the browser
pages' sessions never queue behind API traffic. Nothing here reads a path, the
operator's data or a session.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from fashion import card as cards
from fashion.classes import CLASS_NAMES
from fashion.data.preprocess import InputError, photo, sketch
from fashion.data.uploads import MAX_UPLOAD_BYTES, decode
from fashion.serving.classifier import Classifier
from fashion.serving.openapi import Limits, description
from fashion.serving.predict import load_raw

PREFIX = "/api"
INPUTS = ("photo", "sketch", "dataset")
MAX_BODY_BYTES = MAX_UPLOAD_BYTES  # the whole request, as for one upload in the app
MAX_BATCH = 16
RATE_PER_MINUTE = int(os.environ.get("FASHION_API_RATE", "120"))
API_WORKERS = 2  # threads that classify for the API; the app's sessions have their own
MAX_WAITING = 32  # requests queued for those threads before 503


class ApiError(Exception):
    """A request the API refuses: HTTP status, a message for the caller, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# ------------------------------------------------------------------------ the work


_CLASSIFIERS: dict[str, Classifier] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def shared_classifier(name: str) -> Classifier:
    """One Classifier per shipped model per process, shared with the app's pages
    (fashion.ui.state caches this same object), so the API costs no second copy."""
    with _CLASSIFIERS_LOCK:  # two first requests must not load the model twice
        if name not in _CLASSIFIERS:
            _CLASSIFIERS[name] = Classifier.load(name)
        return _CLASSIFIERS[name]


def _model_name(requested: str | None) -> str:
    known = [c.name for c in cards.shipped()]
    if requested is None or requested == "":
        if not known:
            raise ApiError(503, "No trained model is installed on this server.")
        return cards.default_name()
    if requested not in known:
        raise ApiError(400, f"Unknown model {requested!r}; shipped: {', '.join(known)}.")
    return requested


def prepare(data: bytes, kind: str) -> np.ndarray:
    """An uploaded file -> the model's (28, 28) input, by the app's path for `kind`.

    Raises:
        InputError: not a usable image (the message says why).
    """
    if not data:
        raise InputError("The file is empty.")
    if kind == "photo":
        return photo(data).image
    if kind == "dataset":
        return load_raw(data)
    return sketch(np.asarray(decode(data).convert("RGBA"))).image


def classify(files: list[tuple[str, bytes]], model: str, kind: str) -> list[dict[str, Any]]:
    """Each file's answer (or error), in order; the good ones in one forward pass."""
    clf = shared_classifier(model)
    results: list[dict[str, Any]] = []
    good, images = [], []
    for name, data in files:
        entry: dict[str, Any] = {"file": name} if name else {}
        try:
            images.append(prepare(data, kind))
            good.append(len(results))
        except InputError as exc:
            entry["error"] = str(exc)
        results.append(entry)
    if images:
        for k, p in zip(good, clf.predict_many(np.stack(images)), strict=True):
            results[k].update(p.to_json())
    return results


# ------------------------------------------------------------------------ limits


class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute, bursts up to that many.

    Remembers at most `max_clients` clients (the least recently seen are forgotten:
    a forgotten client starts with a full bucket, which is the generous side).
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """0 if `client` may go ahead now (and a token is taken), else seconds to wait."""
        if self.capacity <= 0:  # FASHION_API_RATE=0: no limit (benchmarks, trusted hosts)
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def client_address(scope: dict) -> str:
    """Who is asking: the peer, or (from a proxy on this machine, i.e. the nginx recipe)
    the address it appended to X-Forwarded-For. A remote peer's header is not trusted."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if peer not in ("127.0.0.1", "::1"):
        return peer
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-for":
            last = value.decode("latin-1").split(",")[-1].strip()
            return last or peer
    return peer


class _Pool:
    """API_WORKERS threads and a bounded queue in front of them."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(API_WORKERS, thread_name_prefix="fashion-api")
        self.pending = 0
        self.lock = threading.Lock()

    async def run(self, fn, *args):
        with self.lock:
            if self.pending >= MAX_WAITING:
                raise ApiError(503, "The server is busy; try again shortly.", {"Retry-After": "1"})
            self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            with self.lock:
                self.pending -= 1


LIMITER = RateLimiter(RATE_PER_MINUTE)
POOL = _Pool()


# ------------------------------------------------------------------------ HTTP


async def read_body(request, cap: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused (413) from its Content-Length or once it passes `cap`."""
    too_big = ApiError(413, f"The request is larger than the {cap / 2**20:.0f} MB limit.")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > cap:
                raise too_big
        except ValueError:
            raise ApiError(400, "Content-Length is not a number.") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _files(request, body: bytes) -> tuple[list[tuple[str, bytes]], bool, dict]:
    """(files, is_multipart, form fields) from a raw or multipart body."""
    from starlette.requests import Request

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        too_many = ApiError(413, f"Too many images: at most {MAX_BATCH} per request.")
        try:
            form = await Request(request.scope, replay).form(max_files=MAX_BATCH, max_fields=20)
        except Exception as exc:  # noqa: BLE001 - the parser's errors vary by version
            if "Too many files" in str(exc):
                raise too_many from None
            raise ApiError(400, f"The multipart body could not be read ({exc}).") from None
        files = [
            (getattr(v, "filename", None) or f"file {k + 1}", await v.read())
            for k, v in enumerate(form.getlist("file"))
            if hasattr(v, "read")
        ]
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not files:
            raise ApiError(400, "No image: send the files as multipart fields named 'file'.")
        return files, True, fields
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        if not body:
            raise ApiError(400, "The request body is empty: send the image's bytes.")
        return [("", body)], False, {}
    raise ApiError(
        415,
        f"Unsupported Content-Type {ctype or '(none)'!r}: send the image's bytes as "
        "image/* or application/octet-stream, or files as multipart/form-data.",
    )


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse(payload, status_code=status, headers=headers)


def _guarded(handler):
    """Rate limit, then the handler; ApiError and any bug become a JSON error."""

    @functools.wraps(handler)
    async def endpoint(request):
        wait = LIMITER.wait(client_address(request.scope))
        if wait > 0:
            retry = str(max(1, math.ceil(wait)))
            message = f"Too many requests: at most {RATE_PER_MINUTE} a minute per client."
            return _json({"error": message}, 429, {"Retry-After": retry})
        try:
            return await handler(request)
        except ApiError as exc:
            return _json({"error": exc.message}, exc.status, exc.headers)
        except Exception:  # noqa: BLE001 - a bug: logged here, no traceback to the caller
            import logging

            logging.getLogger(__name__).exception("API request failed")
            return _json({"error": "Internal error; the server log has the details."}, 500)

    return endpoint


@_guarded
async def predict_endpoint(request):
    body = await read_body(request)
    files, multipart, fields = await _files(request, body)
    params = {**fields, **dict(request.query_params)}
    kind = params.get("input", "photo")
    if kind not in INPUTS:
        raise ApiError(400, f"Unknown input {kind!r}; one of: {', '.join(INPUTS)}.")
    model = _model_name(params.get("model"))
    results = await POOL.run(classify, files, model, kind)
    head = {"model": model, "views": shared_classifier(model).views, "input": kind}
    if multipart:
        return _json(head | {"results": results})
    (result,) = results
    if "error" in result:
        raise ApiError(422, result["error"])
    return _json(result | head)


def models_summary() -> list[dict[str, Any]]:
    """The shipped models, most accurate first, as `GET /api/models` lists them."""
    default = cards.default_name() if cards.shipped() else None
    out = []
    for c in cards.shipped():
        out.append(
            {
                "name": c.name,
                "default": c.name == default,
                "description": c.description,
                "test_accuracy": c.test_accuracy,
                "parameters": c.n_params,
                "views": c.views,
                "epochs": c.epochs,
                "train_seconds": c.train_seconds,
                "calibration_error_after": c.ece_after,
                "not_garment_check": bool(c.ood_thresholds),
                "command": c.command,
            }
        )
    return out


@_guarded
async def models_endpoint(_request):
    return _json({"models": models_summary(), "classes": list(CLASS_NAMES)})


def limits() -> Limits:
    """This API's settings, as its OpenAPI description states them."""
    return Limits(PREFIX, INPUTS, MAX_BATCH, MAX_BODY_BYTES, RATE_PER_MINUTE)


@_guarded
async def openapi_endpoint(_request):
    return _json(description(limits()))


def routes() -> list:
    """The API's Starlette routes (added to the st.App beside /api/ready)."""
    from starlette.routing import Route

    return [
        Route(f"{PREFIX}/predict", predict_endpoint, methods=["POST"]),
        Route(f"{PREFIX}/models", models_endpoint, methods=["GET"]),
        Route(f"{PREFIX}/openapi.json", openapi_endpoint, methods=["GET"]),
    ]
