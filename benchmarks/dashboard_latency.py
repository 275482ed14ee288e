"""How fast the dashboard answers, measured in real Chromium against `streamlit run` on localhost.

    python -m benchmarks.dashboard_latency [--runs pretrained] [--run dcgan-book-50ep] [--clicks 20] [--pages 3]

For one run it measures: the time from the browser's navigation to the page (the server up, the browser
open, as a user's is) to the first generated image (page ready), and the browser's own start beside it,
then page ready again on `--pages` - 1 more fresh servers; the median over `--clicks` clicks on "New seed"
of the time until its first new images are shown (a slow model shows its grid as it comes); the time each
switch of view (Interpolate, Training, back to Sample) takes to show that view's first images or chart; and
the time the Training view takes to draw its first chart from a metrics.jsonl of 100,000 lines (a copy of
the run with that file; median over --repeats fresh pages). Under `python -m benchmarks.slow_machine` it
measures the simulated slower machine, and says so.
Needs Chromium and Playwright (`apt-get install chromium`; playwright is in requirements-dev.txt). Prints
the CPU with every figure.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from core.errors import summary
from core.machine import cpu

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
IMAGE = '[data-testid="stImage"] img'
# A chart of the open view drawn (not the sidebar's glance chart, nor a chart element still loading its library).
VIEW_CHART = '[data-testid="stMain"] [data-testid="stVegaLiteChart"] svg.marks'
GLANCE_CHART = '[data-testid="stSidebar"] [data-testid="stVegaLiteChart"] svg.marks'
# Visible only: the view left behind keeps its elements, hidden, until the rerun ends.
VIEW_IMAGE = f'[data-testid="stMain"] {IMAGE}:visible'


def serve(root: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                               "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false", "--", "--runs", str(root)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**__import__("os").environ, "GAN_DASHBOARD_PRETRAINED": ""})
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("streamlit did not start within a minute")


def idle(page) -> None:
    page.wait_for_timeout(50)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)


def first_image_src(page) -> str:
    return page.locator(IMAGE).first.get_attribute("src") or ""


def open_page(page, url: str, run: str, opened: float) -> dict:
    """Navigate to the run's page; the times to its title and to its first generated image."""
    figures = {}
    page.goto(f"{url}/?run={run}", wait_until="domcontentloaded")
    page.get_by_text("GAN workbench").first.wait_for(timeout=60_000)
    figures["title shown after navigation (s)"] = time.perf_counter() - opened
    page.wait_for_selector(IMAGE, timeout=60_000)
    figures["page ready after navigation (s)"] = time.perf_counter() - opened
    idle(page)
    caption = page.locator('[data-testid="stImage"] [data-testid="stImageCaption"]').first
    figures["images in the default grid"] = float(caption.inner_text().split()[0]) if caption.count() else 0.0
    return figures


def clicked(page, click, shown: str) -> float:
    """Seconds from `click()` until `shown` (a selector) is on the page, then waits for the rerun to end."""
    t = time.perf_counter()
    click()
    page.locator(shown).first.wait_for(timeout=120_000)
    seconds = time.perf_counter() - t
    idle(page)
    return seconds


def measure(root: Path, run: str, clicks: int) -> dict:
    figures = {}
    with fresh_page(root) as (page, url, browser_seconds):
        opened = time.perf_counter()  # a user's browser is already open: its start is not the page's work
        figures["browser started (s, not counted below)"] = browser_seconds
        figures.update(open_page(page, url, run, opened))
        times = []
        for _ in range(clicks):
            before = first_image_src(page)
            t = time.perf_counter()
            page.get_by_role("button", name="New seed").click()
            page.wait_for_function(f"document.querySelector('{IMAGE}') && "
                                   f"document.querySelector('{IMAGE}').src !== {json.dumps(before)}",
                                   timeout=60_000)
            times.append(time.perf_counter() - t)
            idle(page)
        figures[f"new seed to its first new images, median of {clicks} (ms)"] = statistics.median(times) * 1000
        # Each view switch: the time until the view shows what it is for (a chart, or images).
        views = (("Interpolate", "images", VIEW_IMAGE), ("Training", "chart", f"{VIEW_CHART}:visible"),
                 ("Sample", "images", VIEW_IMAGE))
        for view, what, shown in views:
            seconds = clicked(page, page.get_by_role("tab", name=view).click, shown)
            figures[f"to {view}: its first {what} (ms)"] = seconds * 1000
    return figures


@contextmanager
def fresh_page(root: Path):
    """(page, url, seconds the browser took to start): a new server on `root` (nothing cached) and a new browser
    page, both closed afterwards."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    server, url = serve(root)
    started = time.perf_counter()  # the server is up and answers
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            yield page, url, time.perf_counter() - started
            browser.close()
    finally:
        server.kill()
        server.wait()


def page_ready(root: Path, run: str) -> float:
    """Page ready on a fresh server, as a user's first visit."""
    with fresh_page(root) as (page, url, _):
        return open_page(page, url, run, time.perf_counter())["page ready after navigation (s)"]


def long_metrics_copy(root: Path, run: str, folder: Path) -> Path:
    """A copy of the run whose metrics.jsonl has 100,000 training records."""
    copy = folder / run
    shutil.copytree(root / run, copy)
    with open(copy / "metrics.jsonl", "w") as f:
        for step in range(1, 100_001):
            f.write(json.dumps({"step": step, "epoch": 1 + step // 1875, "d_loss_real": 0.5, "d_loss_fake": 0.4,
                                "d_acc_real": 0.6, "d_acc_fake": 0.7, "g_loss": 1.0 + (step % 97) / 97}) + "\n")
    return copy


def training_view(root: Path, run: str) -> float:
    with fresh_page(root) as (page, url, _):
        open_page(page, url, run, time.perf_counter())
        # The page has finished loading once the sidebar's glance chart, drawn a second after the first
        # page, is there: a click on Training before it also waits for the chart library.
        page.locator(GLANCE_CHART).first.wait_for(timeout=60_000)
        idle(page)
        t = time.perf_counter()
        page.get_by_role("tab", name="Training").click()
        page.locator(VIEW_CHART).first.wait_for(timeout=60_000)
        idle(page)
        return time.perf_counter() - t


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard_latency", description=summary(__doc__))
    parser.add_argument("--runs", default=str(ROOT / "pretrained"))
    parser.add_argument("--run", default="dcgan-book-50ep")
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="fresh pages that open the Training view")
    parser.add_argument("--pages", type=int, default=3, help="fresh servers whose first page is timed")
    args = parser.parse_args(argv)
    root = Path(args.runs)
    print(f"machine: {cpu().describe()}; run {args.run}", flush=True)
    for name, value in measure(root, args.run, args.clicks).items():
        print(f"  {name:52} {value:10.2f}", flush=True)
    if args.pages > 1:
        times = [page_ready(root, args.run) for _ in range(args.pages - 1)]
        print(f"  {f'page ready on {len(times)} more fresh servers, median (s)':52} {statistics.median(times):10.2f}  "
              f"(each: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        long_metrics_copy(root, args.run, Path(folder))
        times = [training_view(Path(folder), args.run) for _ in range(args.repeats)]
        print(f"  {f'Training view, 100,000 metric lines, median of {args.repeats} (s)':52} "
              f"{statistics.median(times):10.2f}  (each: {', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
