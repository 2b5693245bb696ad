"""Serve the app to visitors: one Streamlit process, or K of them behind nginx.

    python -m fashion serve                  # one process on :8501, as a Streamlit host runs it
    python -m fashion serve --processes 2    # nginx on :8080 in front of 2 app processes

Streamlit keeps each visitor's session (widgets, uploads, the images it shows) in the one
process that holds the visitor's websocket, so several processes need a balancer that
sends every request of a visitor to the same process. nginx does that here by hashing a
cookie it sets on the visitor's first response (`ip_hash` would send everyone behind one
NAT, or every test browser on this machine, to one process). nginx also serves
Streamlit's own static files itself, pre-compressed and cached for a year (their names
carry a content hash), so the app processes spend their CPU on the visitors' script runs.
The nginx config is deploy/nginx.conf; this module fills in its ports and paths.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
ENTRY = ROOT / "streamlit_app.py"  # the app in an st.App that loads the model at start
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
RUN_DIR = ROOT / "deploy" / "run"  # logs, pid file, the static mirror (not committed)
HEALTH_PATH = "/_stcore/health"  # Streamlit's own: the server answers
READY_PATH = "/api/ready"  # ours (streamlit_app.py): the model and the data are loaded
# Importing TensorFlow and loading a model: ~15 s on an idle 2-core box, minutes on a busy one.
START_TIMEOUT_S = 900
# The public demo's server settings (Streamlit's config format), on top of
# .streamlit/config.toml, which is tuned for `make run` on a developer's machine.
PUBLIC_CONFIG = ROOT / "deploy" / "public.toml"
# Files nginx sends gzipped; fonts and images are compressed already.
COMPRESSIBLE = {".js", ".css", ".html", ".json", ".svg", ".map", ".txt"}


def free_port() -> int:
    """A TCP port nothing listens on right now (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def public_settings(path: Path = PUBLIC_CONFIG) -> dict[str, bool | int | float | str]:
    """deploy/public.toml as Streamlit option names: {"server.headless": True, ...}."""
    with path.open("rb") as fh:
        sections = tomllib.load(fh)
    return {
        f"{section}.{key}": value
        for section, opts in sections.items()
        for key, value in opts.items()
    }


def streamlit_command(port: int, script: Path = ENTRY, address: str = "127.0.0.1") -> list[str]:
    """`streamlit run SCRIPT` with the public-demo settings as flags, on `address:port`.

    Flags win over every config file, so whatever script runs gets the public settings.
    """
    flags = [
        f"--{key}={str(value).lower() if isinstance(value, bool) else value}"
        for key, value in public_settings().items()
    ]
    return [
        sys.executable, "-m", "streamlit", "run", str(script), *flags,
        f"--server.port={port}", f"--server.address={address}",
    ]  # fmt: skip


def wait_for(url: str, procs: list[subprocess.Popen], timeout: float = START_TIMEOUT_S) -> None:
    """Poll `url` until it answers 200, while every process in `procs` is still running.

    Raises:
        RuntimeError: a process exited, or `url` did not answer 200 within `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code != 503:  # 503: still loading; anything else will not get better
                raise RuntimeError(f"{url} answered {exc.code}: {exc.read()[:500]!r}") from exc
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def launch_app(
    port: int, log_path: Path, script: Path = ENTRY, address: str = "127.0.0.1"
) -> subprocess.Popen:
    """One app process in the background (wait for `ready_url` before sending visitors)."""
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            streamlit_command(port, script, address),
            cwd=Path(script).parent,  # its .streamlit/config.toml and its `fashion` package
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def local_host(address: str) -> str:
    """Where this machine reaches a server listening on `address`."""
    return "127.0.0.1" if address in ("0.0.0.0", "::", "") else address


def ready_url(port: int, script: Path = ENTRY, address: str = "127.0.0.1") -> str:
    """READY_PATH for streamlit_app.py (model loaded); Streamlit's health check for any
    other script (e.g. app.py, which has no /api/ready)."""
    path = READY_PATH if Path(script).name == ENTRY.name else HEALTH_PATH
    return f"http://{local_host(address)}:{port}{path}"


def start_app(
    port: int, log_path: Path, script: Path = ENTRY, address: str = "127.0.0.1"
) -> subprocess.Popen:
    """One app process, returned once it is ready (see `ready_url`)."""
    proc = launch_app(port, log_path, script, address)
    try:
        wait_for(ready_url(port, script, address), [proc])
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a process we started (and only it): SIGTERM, then SIGKILL if it hangs."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def streamlit_static_dir() -> Path:
    """The frontend Streamlit serves (index.html, static/js, ...) from its own package."""
    import importlib.util

    spec = importlib.util.find_spec("streamlit")
    assert spec and spec.origin, "streamlit is not installed"
    return Path(spec.origin).parent / "static"


def static_mirror(run_dir: Path, source: Path | None = None) -> Path:
    """A copy of Streamlit's frontend with a `.gz` next to every text file, for nginx.

    nginx's gzip_static then sends the compressed file as it is: no compression work per
    request. Built once per Streamlit version (its files carry the version's hashes).
    """
    from importlib.metadata import version

    source = source or streamlit_static_dir()
    mirror = run_dir / f"static-streamlit-{version('streamlit')}"
    done = mirror / ".complete"
    if done.exists():
        return mirror
    shutil.rmtree(mirror, ignore_errors=True)
    shutil.copytree(source, mirror)
    for path in mirror.rglob("*"):
        if path.is_file() and path.suffix in COMPRESSIBLE:
            # mtime=0: the same bytes every build; level 9: built once, sent many times.
            packed = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
            path.with_name(path.name + ".gz").write_bytes(packed)
    done.touch()
    return mirror


def nginx_config(
    port: int, backends: list[str], static_root: Path, run_dir: Path, address: str = "127.0.0.1"
) -> str:
    """deploy/nginx.conf with its @PLACEHOLDERS@ filled in.

    Args:
        port, address: where nginx listens for visitors.
        backends: the app processes, "host:port" each (this machine's or others').
        static_root: Streamlit's frontend with its .gz files (`static_mirror`).
        run_dir: nginx's pid, logs, temporary files and cache.
    """
    upstreams = "\n".join(f"        server {b} max_fails=3;" for b in backends)
    values = {
        # Started as root, nginx would run its workers as `nobody`, who cannot read a
        # private run folder (pytest's and mkdtemp's are 0700). An ordinary user needs
        # nothing: the workers run as that user.
        "@USER@": "user root;" if os.geteuid() == 0 else "",
        "@LISTEN@": f"{address}:{port}",
        "@UPSTREAMS@": upstreams.strip(),
        "@STATIC_ROOT@": str(static_root),
        "@RUN_DIR@": str(run_dir),
        "@MIME_TYPES@": "/etc/nginx/mime.types",
    }
    text = NGINX_TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(key, value)
    return text


@dataclass
class Deployment:
    """Running server processes: the app processes and, with a balancer, nginx."""

    url: str  # what a visitor opens
    apps: list[subprocess.Popen]
    app_ports: list[int]
    run_dir: Path
    nginx: subprocess.Popen | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def access_log(self) -> Path:
        return self.run_dir / "access.log"

    def pids(self) -> dict[str, list[int]]:
        """{"app": [pid, ...], "balancer": [master, worker, ...]} of the running processes."""
        out = {"app": [p.pid for p in self.apps if p.poll() is None], "balancer": []}
        if self.nginx is not None and self.nginx.poll() is None:
            out["balancer"] = [self.nginx.pid, *child_pids(self.nginx.pid)]
        return out

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop(self.nginx)
        for proc in self.apps:
            stop(proc)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (nginx's workers), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return children


def start(
    processes: int = 0,
    port: int = 8501,
    run_dir: Path = RUN_DIR,
    script: Path = ENTRY,
    app_ports: list[int] | None = None,
    address: str = "127.0.0.1",
    backends: list[str] | None = None,
) -> Deployment:
    """Start the app, returned once every app process is ready (model loaded).

    - processes=0: one app process on address:port, no balancer;
    - processes=K: nginx on address:port in front of K app processes on this machine
      (on 127.0.0.1 and `app_ports`, default port+1, port+2, ...);
    - backends=["host:port", ...]: nginx alone, in front of app processes started
      elsewhere (`python -m fashion serve --address ...` on each app machine).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{local_host(address)}:{port}"
    if processes <= 0 and not backends:
        app = start_app(port, run_dir / "app.log", script, address)
        return Deployment(url, [app], [port], run_dir)
    app_ports = [] if backends else (app_ports or [port + 1 + k for k in range(processes)])
    deployment = Deployment(url, [], app_ports, run_dir)
    try:
        for k, app_port in enumerate(app_ports):
            deployment.apps.append(launch_app(app_port, run_dir / f"app-{k}.log", script))
        for app_port in app_ports:  # all loading at once; each must answer
            wait_for(ready_url(app_port, script), deployment.apps)
        backends = backends or [f"127.0.0.1:{p}" for p in app_ports]
        conf = run_dir / "nginx.conf"
        conf.write_text(nginx_config(port, backends, static_mirror(run_dir), run_dir, address))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        # -e: error log from the start (before the config's own error_log is read);
        # daemon off: nginx stays our child, so stopping it is one signal to one pid.
        deployment.nginx = subprocess.Popen(
            [nginx, "-e", str(run_dir / "error.log"), "-c", str(conf), "-g", "daemon off;"],
            cwd=run_dir,
        )
        wait_for(f"{deployment.url}{HEALTH_PATH}", [deployment.nginx], timeout=60)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="app processes behind nginx on this machine (0: one app process, no balancer)",
    )
    parser.add_argument("--port", type=int, help="where visitors connect (8501, or 8080 with K)")
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="where visitors connect (default: this machine only; 0.0.0.0: every interface)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        metavar="HOST:PORT",
        help="nginx alone, in front of app processes running on other machines",
    )
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="logs and nginx files")


def main(args: argparse.Namespace) -> int:
    """`python -m fashion serve`: start, print where, and run until Ctrl-C or SIGTERM."""
    balanced = args.processes > 0 or bool(args.backends)
    port = args.port or (8080 if balanced else 8501)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops the children
    deployment = start(
        args.processes, port, args.run_dir, address=args.address, backends=args.backends
    )
    try:
        apps = args.backends or [f"127.0.0.1:{p}" for p in deployment.app_ports]
        where = f" behind nginx (apps on {', '.join(apps)})" if deployment.nginx else ""
        print(f"Serving on {deployment.url}{where}; logs in {args.run_dir}", flush=True)
        while all(p.poll() is None for p in [*deployment.apps, deployment.nginx] if p):
            time.sleep(1)
        print("a server process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        deployment.stop()
