"""Visitors in real browsers: what each one costs the server in CPU, memory and bytes.

Starts the app the way `python -m fashion serve` does (one `streamlit run` process, or K
of them behind nginx with --processes K), then for each N in --sessions opens N Chromium
sessions at once (Playwright contexts in one browser, each with an empty cache, as a
first visit) that load the front page, upload a shop photo (`fashion.data.renders`) and wait
for its prediction. It reports, per N:

- measured on the server processes alone (from /proc, so the browsers' CPU on the same
  cores does not count): CPU seconds per visitor (user + system of every app process,
  and of nginx's master and worker when it is in front), resident memory (RSS) before
  and after;
- measured in the browser: bytes on the wire per visitor (every HTTP response as
  transferred, headers included, plus websocket frames received), errors;
- measured on the shared machine: p50 / p95 wall time from opening the page to the
  prediction, which also pays for N browsers and whatever else runs (a model training).

Before the rounds: the CPU and wall time the server needs to start (until it says it is
ready), and one first visitor on its own, with its CPU split into page load and upload.
Behind nginx, its access log shows which app process served each request: every
visitor's requests must reach one process (session affinity).

    nice -n 10 .venv/bin/python benchmarks/load.py                   # one streamlit run server
    nice -n 10 .venv/bin/python benchmarks/load.py --processes 2     # nginx + 2 app processes
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.classes import CLASS_NAMES  # noqa: E402
from fashion.data import (
    official,  # noqa: E402
    renders,  # noqa: E402
)
from fashion.serving import serve  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless CI box: no sandbox (containers run as root), no GPU, and none of
# Chromium's own background traffic (updates, sync, safe-browsing lists). The browser
# tests use the same list.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SESSION_TIMEOUT_MS = 900_000  # 20 browsers starved by a training run at a higher priority
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
# The result of an upload: the probability chart drawn inside the upload tab.
RESULT = ".js-plotly-plot .main-svg"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Goals of issue 15, for one page load plus one upload and its result.
GOAL_CPU_PLAIN_S = 0.8
GOAL_CPU_BALANCED_S = 0.3
GOAL_FIRST_VISIT_MB = 3.0
GOAL_RSS_GROWTH_MB = 100.0


# ----------------------------------------------------------------------- the server, /proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Sample:
    """CPU seconds and RSS of the server's processes at one moment."""

    cpu: dict[str, float]  # "app" / "balancer" -> CPU seconds summed over their processes
    rss: dict[str, float]  # same, MB

    @classmethod
    def take(cls, deployment: serve.Deployment) -> Sample:
        cpu, rss = {}, {}
        for role, pids in deployment.pids().items():
            cpu[role] = sum(cpu_seconds(p) for p in pids)
            rss[role] = sum(rss_mb(p) for p in pids)
        return cls(cpu, rss)

    def __sub__(self, other: Sample) -> dict[str, float]:
        return {role: self.cpu[role] - other.cpu.get(role, 0.0) for role in self.cpu}


# -------------------------------------------------------------------------- one visitor


def photos(n: int) -> list[tuple[str, bytes]]:
    """`n` shop photos (JPEG) of different official test images, the classes in turn."""
    test = official.test_set()
    out = []
    for k in range(n):
        label = k % len(CLASS_NAMES)
        index = np.flatnonzero(test.labels == label)[k // len(CLASS_NAMES)]
        out.append((CLASS_NAMES[label], renders.shop_photo(test.images[index])))
    return out


@dataclass
class Visit:
    """What one visitor saw and cost."""

    seconds_to_page: float = float("nan")  # page open -> its Upload tab open, the box there
    seconds_to_result: float = float("nan")  # page open -> the prediction is drawn
    bytes_http: int = 0  # every response as transferred (compressed size + headers)
    bytes_ws: int = 0  # websocket frames received
    requests: int = 0
    error: str | None = None
    route: str | None = None  # the affinity cookie nginx gave this visitor
    cpu_page: float | None = None  # server CPU while only this visitor loaded the page
    cpu_upload: float | None = None  # ... and while it uploaded and got the result

    @property
    def bytes_total(self) -> int:
        return self.bytes_http + self.bytes_ws


async def visit(
    browser, url: str, photo: bytes, deployment=None, cookies: list[dict] | None = None
) -> Visit:
    """One first-time visitor: open the page, upload `photo`, wait for the prediction.

    With `deployment`, the server's CPU is sampled between the steps (one visitor alone).
    `cookies` are set before the visit (a test picks the process nginx sends it to).
    """
    v = Visit()
    context = await browser.new_context(viewport=VIEWPORT)
    if cookies:
        await context.add_cookies(cookies)
    try:
        page = await context.new_page()
        page.set_default_timeout(SESSION_TIMEOUT_MS)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")

        def finished(event: dict) -> None:
            v.bytes_http += int(event["encodedDataLength"])
            v.requests += 1

        def frame(event: dict) -> None:
            payload = event["response"]["payloadData"]
            # Binary frames (Streamlit's protobuf messages) arrive base64-encoded.
            binary = event["response"]["opcode"] == 2
            v.bytes_ws += len(base64.b64decode(payload)) if binary else len(payload.encode())

        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.webSocketFrameReceived", frame)
        s0 = Sample.take(deployment) if deployment else None
        t0 = time.perf_counter()
        await page.goto(url)
        tab = page.get_by_role("tab", name=re.compile("Upload"))
        await tab.wait_for()
        await page.wait_for_load_state("networkidle")  # what the page opens with is drawn
        if await tab.get_attribute("aria-selected") != "true":
            # Tabs that run only when open: the upload box is drawn on the click.
            await tab.click()
        await page.locator(UPLOAD_INPUT).wait_for(state="attached")
        v.seconds_to_page = time.perf_counter() - t0
        if deployment:
            await page.wait_for_load_state("networkidle")
            s1 = Sample.take(deployment)
            v.cpu_page = sum((s1 - s0).values())
        await page.locator(UPLOAD_INPUT).set_input_files(
            {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}
        )
        panel = page.get_by_role("tabpanel", name=re.compile("Upload"))
        await panel.locator(RESULT).first.wait_for()
        v.seconds_to_result = time.perf_counter() - t0
        if deployment:
            await page.wait_for_load_state("networkidle")
            v.cpu_upload = sum((Sample.take(deployment) - s1).values())
        await page.wait_for_timeout(500)  # the last images and frames arrive
        if await page.locator(ERRORS).count():
            v.error = "the page shows an error: " + (await page.locator(ERRORS).first.inner_text())
        v.route = next(
            (c["value"] for c in await context.cookies() if c["name"] == "fashion_route"), None
        )
    except Exception as exc:  # noqa: BLE001 - a failed visitor is counted, not raised
        v.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        await context.close()
    return v


# ------------------------------------------------------------------------------- rounds


@dataclass
class Round:
    sessions: int
    visits: list[Visit]
    cpu: dict[str, float]  # server CPU seconds over the round, per role
    rss_before: dict[str, float]
    rss_after: dict[str, float]
    wall: float
    affinity: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return [v.error for v in self.visits if v.error]

    def times(self) -> list[float]:
        return [v.seconds_to_result for v in self.visits if not v.error]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run_round(browser, deployment: serve.Deployment, n: int, pics) -> Round:
    before = Sample.take(deployment)
    t0 = time.perf_counter()
    visits = await asyncio.gather(
        *(visit(browser, deployment.url, pics[k % len(pics)][1]) for k in range(n))
    )
    wall = time.perf_counter() - t0
    await asyncio.sleep(2)  # the server finishes with the closed sessions
    after = Sample.take(deployment)
    return Round(n, list(visits), after - before, before.rss, after.rss, wall)


def affinity(deployment: serve.Deployment, visits: list[Visit]) -> dict:
    """From nginx's access log: the app process(es) each visitor's requests reached."""
    upstreams: dict[str, set[str]] = defaultdict(set)
    pattern = re.compile(r"route=(\S+) upstream=(\S+)")
    for line in deployment.access_log.read_text().splitlines():
        if m := pattern.search(line):
            for addr in m.group(2).split(", "):  # a retried request lists each one tried
                if addr != "-":
                    upstreams[m.group(1)].add(addr)
    ok = [v for v in visits if not v.error]
    spread = [upstreams.get(v.route or "", set()) for v in ok]
    return {
        "visitors": len(ok),
        "one_process": sum(len(s) == 1 for s in spread),
        "per_process": dict(Counter(next(iter(s)) for s in spread if len(s) == 1)),
    }


async def run(args: argparse.Namespace) -> dict:
    from playwright.async_api import async_playwright

    pics = photos(max(args.sessions))
    run_dir = Path(tempfile.mkdtemp(prefix="fashion-load-"))
    port = serve.free_port()
    app_ports = [serve.free_port() for _ in range(args.processes)] or None
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    deployment = serve.start(args.processes, port, run_dir, Path(args.script), app_ports)
    result: dict = {"start_wall": time.perf_counter() - t0, "load_start": load_start}
    try:
        start_sample = Sample.take(deployment)
        result["start_cpu"] = start_sample.cpu
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            await asyncio.sleep(3)  # whatever the server does right after saying ready
            idle = Sample.take(deployment)
            first = await visit(browser, deployment.url, pics[0][1], deployment)
            result["first"] = first
            result["first_cpu"] = sum((Sample.take(deployment) - idle).values())
            rounds = []
            for n in args.sessions:
                rounds.append(await run_round(browser, deployment, n, pics))
                r = rounds[-1]
                print(
                    f"N={n}: {len(r.errors)} errors, CPU {sum(r.cpu.values()) / n:.2f} s/visitor,"
                    f" wall {r.wall:.0f} s",
                    flush=True,
                )
            await browser.close()
        if deployment.nginx:
            all_visits = [first, *(v for r in rounds for v in r.visits)]
            result["affinity"] = affinity(deployment, all_visits)
        result["rounds"] = rounds
        result["rss_per_app"] = [rss_mb(pid) for pid in deployment.pids()["app"]]
    finally:
        deployment.stop()
        if not args.keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"logs kept in {run_dir}")
    result["load_end"] = os.getloadavg()[0]
    return result


# ------------------------------------------------------------------------------ report


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def goals(args: argparse.Namespace, result: dict) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for the goals of issue 15 that this configuration measures."""
    rounds: list[Round] = result["rounds"]
    biggest = max(rounds, key=lambda r: r.sessions)
    per_visitor = max(sum(r.cpu.values()) / r.sessions for r in rounds)
    first_visits = [v.bytes_total for r in rounds for v in r.visits if not v.error]
    rss_growth = sum(biggest.rss_after.values()) - sum(biggest.rss_before.values())
    cpu_goal = GOAL_CPU_BALANCED_S if args.processes else GOAL_CPU_PLAIN_S
    where = (
        "summed over every server process, balancer included"
        if args.processes
        else ("one `streamlit run` process")
    )
    out = [
        (
            f"0 errors at N = {biggest.sessions}",
            f"{len(biggest.errors)} errors",
            not biggest.errors,
        ),
        (
            f"<= {cpu_goal} CPU-s per visitor ({where})",
            f"{per_visitor:.2f} CPU-s (the costliest round)",
            per_visitor <= cpu_goal,
        ),
        (
            f"RSS growth <= {GOAL_RSS_GROWTH_MB:.0f} MB over {biggest.sessions} visitors",
            f"{rss_growth:+.0f} MB",
            rss_growth <= GOAL_RSS_GROWTH_MB,
        ),
    ]
    if first_visits and args.processes:  # a goal for the recommended deployment only
        worst = max(first_visits)
        out.append(
            (
                f"<= {GOAL_FIRST_VISIT_MB:.0f} MB on the wire per first visit",
                f"{_mb(statistics.median(first_visits))} median, {_mb(worst)} max",
                worst <= GOAL_FIRST_VISIT_MB * 1e6,
            )
        )
    if "affinity" in result:
        a = result["affinity"]
        out.append(
            (
                "every session stays on one process",
                f"{a['one_process']} of {a['visitors']} visitors "
                f"(per process: {', '.join(str(n) for n in a['per_process'].values())})",
                a["one_process"] == a["visitors"],
            )
        )
    return out


def to_markdown(args: argparse.Namespace, result: dict) -> str:
    rounds: list[Round] = result["rounds"]
    balanced = args.processes > 0
    config = (
        f"nginx (deploy/nginx.conf) in front of {args.processes} app processes"
        if balanced
        else "one `streamlit run` process"
    )
    cmd = "nice -n 10 .venv/bin/python benchmarks/load.py" + (
        f" --processes {args.processes}" if balanced else ""
    )
    if args.script != str(serve.ENTRY):
        cmd += f" --script {Path(args.script).name}"
    cmd += " --sessions " + " ".join(map(str, args.sessions))
    if args.tag != default_tag(args):
        cmd += f" --tag {args.tag}"
    first: Visit = result["first"]
    start_cpu = sum(result["start_cpu"].values())
    lines = [
        f"{config}, serving `{Path(args.script).name}`; measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {os.cpu_count()} cores by `{cmd}`. "
        f"1-min load average {result['load_start']:.1f} before the server started, "
        f"{result['load_end']:.1f} at the end (the browsers' own load included)"
        + (
            ": other work was running, so wall times are inflated (CPU seconds much less)."
            if result["load_start"] > 0.5 * (os.cpu_count() or 1)
            else "."
        ),
        "",
        f"- server start: {result['start_wall']:.0f} s wall, {start_cpu:.1f} CPU-s until it "
        "said it was ready"
        + (" (model and data loaded)" if Path(args.script).name == serve.ENTRY.name else ""),
        f"- the first visitor after the start, alone: {result['first_cpu']:.2f} server CPU-s "
        f"(page load {first.cpu_page or float('nan'):.2f}, upload and result "
        f"{first.cpu_upload or float('nan'):.2f}), result after {first.seconds_to_result:.1f} s"
        + (f"; ERROR {first.error}" if first.error else ""),
        "",
        "| visitors at once | errors | time to result p50 / p95 (s) | server CPU-s per visitor "
        + ("(apps + nginx) " if balanced else "")
        + "| on the wire per visitor | server RSS before -> after (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rounds:
        times = r.times()
        ok = [v for v in r.visits if not v.error]
        wire = statistics.median([v.bytes_total for v in ok]) if ok else float("nan")
        requests = statistics.median([v.requests for v in ok]) if ok else 0
        cpu = sum(r.cpu.values()) / r.sessions
        cpu_text = f"**{cpu:.2f}**"
        if balanced:
            cpu_text += f" ({r.cpu['app'] / r.sessions:.2f} + {r.cpu['balancer'] / r.sessions:.3f})"
        rss = " / ".join(
            f"{r.rss_before[k]:.0f} -> {r.rss_after[k]:.0f}"
            for k in r.rss_before
            if r.rss_before[k]
        )
        lines.append(
            f"| {r.sessions} | {len(r.errors)} | {percentile(times, 50):.1f} / "
            f"{percentile(times, 95):.1f} | {cpu_text} | {_mb(wire)} ({requests:.0f} responses)"
            f" | {rss} |"
        )
    lines += ["", "Goals (issue 15):", ""]
    lines += [f"- {g}: {m} — **{'met' if ok else 'NOT met'}**" for g, m, ok in goals(args, result)]
    if balanced:
        per_app = ", ".join(f"{mb:.0f}" for mb in result["rss_per_app"])
        lines.append(f"- RSS of each app process at the end: {per_app} MB")
    errors = [e for r in rounds for e in r.errors]
    if errors:
        lines += ["", "Errors (first 3): " + "; ".join(errors[:3])]
    return "\n".join(lines)


def default_tag(args: argparse.Namespace) -> str:
    return f"nginx-{args.processes}" if args.processes else "plain"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--processes", type=int, default=0, help="app processes behind nginx (0: no balancer)"
    )
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument(
        "--script",
        default=str(serve.ENTRY),
        help="what `streamlit run` serves (default: %(default)s)",
    )
    parser.add_argument("--tag", help="RESULTS.md section load-TAG (default: plain, or nginx-K)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    add_no_write_flag(parser)
    args = parser.parse_args(argv)
    args.tag = args.tag or default_tag(args)
    # Stopped from outside: unwind, so the servers this script started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (make browser)", file=sys.stderr)
        return 2
    result = asyncio.run(run(args))
    publish(f"load-{args.tag}", to_markdown(args, result), write=not args.no_write)
    return 0 if all(ok for _, _, ok in goals(args, result)) else 1


if __name__ == "__main__":
    sys.exit(main())
