"""Start the app with `streamlit run` on a free port and drive it with Playwright's Chromium.

Shared by tests/test_browser.py and by hand (`python tests/browser_helpers.py` starts a
server and prints its URL), so the browser setup lives in one place.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run by hand as a script, `benchmarks` is not on the path

# Re-exported for the browser tests: one list of CI flags, kept in benchmarks/load.py.
from benchmarks.load import CHROMIUM, CHROMIUM_ARGS  # noqa: E402, F401

APP = ROOT / "app.py"
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
# The first page view loads TensorFlow and a model; on a busy 2-core box that is slow.
STARTUP_TIMEOUT_S = 180
# The very first view of a fresh server loads TensorFlow and the model and classifies the
# test set: paid once, by each browser test module's `warm` fixture.
WARM_MS = 600_000
# The viewports of the screenshots in docs/.
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


def sync_api_or_skip():
    """Playwright's sync API; skips the test module importing it where there is no browser."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing (install it with `make browser`)", allow_module_level=True
        )
    return pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log_path: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """`streamlit run app.py` in the background, niced so a training run keeps priority;
    `extra_env`: variables to set for the server only.

    Returns once the server answers its health check.

    Raises:
        RuntimeError: the server exited or did not answer within STARTUP_TIMEOUT_S.
    """
    cmd = [
        "nice", "-n", "19", sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        # Watching the repo (and its .venv) for edits costs CPU and floods inotify.
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"} | (extra_env or {})
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            url = f"http://127.0.0.1:{port}/_stcore/health"
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not start within {STARTUP_TIMEOUT_S} s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server we started (and only it): SIGTERM, then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def served(log_name: str, extra_env: dict | None = None) -> Iterator[str]:
    """A server (`start_server`, logging to ARTIFACTS/log_name) for the block; its URL."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    proc = start_server(port, ARTIFACTS / log_name, extra_env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


@contextlib.contextmanager
def chromium(sync_api, extra_args: tuple[str, ...] = ()) -> Iterator:
    """The system Chromium, launched by Playwright's `sync_api` for the block."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield b
        finally:
            b.close()


if __name__ == "__main__":
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    server = start_server(port, ARTIFACTS / "streamlit.log")
    print(f"http://127.0.0.1:{port}  (Ctrl-C stops it)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(server)
