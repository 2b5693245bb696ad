"""The server's start: public settings, and the model and the data loaded before visitors.

`streamlit_app.py` applies deploy/public.toml (`apply_public_settings`), then wraps
app.py in an `st.App` whose lifespan starts `WarmUp.run` in a thread as soon as the
server is up, and adds `GET /api/ready`. The loaders are the
pages' own cached functions (fashion.ui.state), so every visitor reuses exactly what was
loaded here: TensorFlow, the dataset, the default model, its answers on the 10k test
images (the confusion, mistakes and models pages need them) and plotly's first figure.

/api/ready answers without a browser session, which is what a balancer's or a host's
health check, the start command (`python -m fashion serve`) and the tests need: 503
while loading, 200 with what was loaded once the default model answers, 500 if loading
failed (the pages then say what is missing, as they would anyway). It also shows the
settings the server runs with.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from fashion.serving.serve import PUBLIC_CONFIG, public_settings

log = logging.getLogger("fashion.warmup")

READY_ROUTE = "/api/ready"
# `make run` sets FASHION_DEV=1: the public settings but for these, which keep the
# developer's reload on save (.streamlit/config.toml).
DEV_ENV = "FASHION_DEV"
DEV_KEEPS = ("server.fileWatcherType", "server.runOnSave")


class WarmUp:
    """The start-up loading, run once per process in a background thread."""

    def __init__(self) -> None:
        self.report: dict[str, Any] = {"state": "loading"}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self.run, name="fashion-warm-up", daemon=True
                )
                self._thread.start()

    def run(self) -> None:
        # Imported here: the page modules need a Streamlit runtime, which exists by now.
        from fashion.analysis import charts
        from fashion.ui import state

        start = time.perf_counter()
        try:
            cards = state.model_cards()
            if not cards:
                raise FileNotFoundError("no trained model in assets/models")
            name = cards[0].name  # the sidebar's default: the most accurate model
            state.dataset()
            classifier = state.load_shipped(name)
            classifier.predict(np.zeros((28, 28), np.float32))  # first call builds kernels
            charts.probability_bars(np.full(10, 0.1))  # plotly builds its validators once
            freeze_long_lived()
        except Exception as exc:  # noqa: BLE001 - reported by /api/ready and the log
            self.report = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
            log.exception("warm-up failed")
            return
        seconds = time.perf_counter() - start
        self.report = {"state": "ready", "model": name, "seconds": round(seconds, 1)}
        log.warning("warm-up: model %s, the dataset and its test answers loaded in %.1f s",
                    name, seconds)  # fmt: skip


WARM_UP = WarmUp()


def freeze_long_lived() -> None:
    """Hide everything loaded so far from the garbage collector's full collections.

    Streamlit collects garbage after every script run (`runner.postScriptGC`, and again in
    `keras.backend.clear_session()`, which it calls whenever Keras is loaded). With
    TensorFlow, Keras and a model in the process that is ~450,000 objects to walk:
    0.2 CPU-s each, 0.44 s per rerun, most of what a visitor cost. Frozen objects are
    skipped (`gc.freeze`), so both collections take milliseconds. They live as long as
    the process anyway; done once, before visitors arrive, so no session's objects are
    frozen with them.
    """
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """st.App lifespan: start loading as soon as the server runs; visitors need not wait."""
    WARM_UP.start()
    yield


async def ready(_request: object) -> object:
    from starlette.responses import JSONResponse
    from streamlit import config

    status = {"ready": 200, "loading": 503}.get(WARM_UP.report["state"], 500)
    settings = {key: config.get_option(key) for key in public_settings()}
    return JSONResponse(WARM_UP.report | {"settings": settings}, status_code=status)


def apply_public_settings() -> dict[str, Any]:
    """deploy/public.toml on top of the config files, for `streamlit run streamlit_app.py`.

    A Streamlit host reads only .streamlit/config.toml, which is tuned for `make run`.
    This runs when the server imports streamlit_app.py, before the first session: a
    session decides on its file watcher and run-on-save when it starts.
    """
    from streamlit import config

    settings = public_settings()
    if os.environ.get(DEV_ENV) == "1":
        # `make run`: the same app, but it reloads when its code changes.
        settings = {k: v for k, v in settings.items() if k not in DEV_KEEPS}
    for key, value in settings.items():
        config.set_option(key, value, where_defined=str(PUBLIC_CONFIG))
    return settings


def routes() -> list:
    """The extra HTTP routes of streamlit_app.py: readiness and the API."""
    from starlette.routing import Route

    from fashion.serving import api

    return [Route(READY_ROUTE, ready, methods=["GET"]), *api.routes()]
