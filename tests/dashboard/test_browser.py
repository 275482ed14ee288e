"""The dashboard in a real browser: `streamlit run` on localhost, loaded in headless Chromium.

Skipped when Chromium or Playwright is missing. Set DASHBOARD_SCREENSHOTS=DIR to keep a
screenshot of each view (that is how docs/dashboard-*.png are made), and GAN_DASHBOARD_RUNS=DIR
(the folder the dashboard itself reads) to show real runs instead of a synthetic one.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import synthetic
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TABS = ("Sample", "Interpolate", "Latent arithmetic", "Directions", "Project", "Training", "Memorisation")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The running dashboard: its address, and what the server has logged so far."""

    def __init__(self, url: str, log):
        self.url, self._log = url, log

    def log(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()


@contextlib.contextmanager
def serving(root, tmp_path):
    """`streamlit run dashboard/app.py` on the runs in `root`, until the block ends."""
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w+")  # a file, not a pipe nobody reads (it would fill and stall)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--", "--runs", str(root)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start within 60 s")
        yield Served(url, log)
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def served_dashboard(tmp_path):
    root = os.environ.get("GAN_DASHBOARD_RUNS")
    if not root:
        root = tmp_path / "runs"
        synthetic.run_folder(root, "run")
    with serving(root, tmp_path) as served:
        yield served


def test_tabs_render_images_without_errors(served_dashboard):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    shots = Path(os.environ["DASHBOARD_SCREENSHOTS"]) if os.environ.get("DASHBOARD_SCREENSHOTS") else None
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        # Streamlit scrolls inside its own container, so a full-page shot is only the viewport: make it tall.
        page = browser.new_page(viewport={"width": 1400, "height": 1700 if shots else 1100})
        page.goto(served_dashboard.url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
        for tab in TABS:
            page.get_by_role("tab", name=tab).click()
            panel = page.locator('[role="tabpanel"]:visible')
            if tab == "Project":
                panel.get_by_text("a test image of this run's data").click()
                panel.get_by_role("button", name="Project").click()
                panel.get_by_text("G's nearest image (right)").wait_for(timeout=60_000)  # the projection's answer
            if tab != "Training":
                panel.locator('[data-testid="stImage"] img').first.wait_for(timeout=30_000)
                loaded = panel.locator('[data-testid="stImage"] img').evaluate_all(
                    "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
                assert loaded >= 1, f"no generated image rendered in the {tab} tab"
            else:
                panel.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)  # script done
            page.wait_for_timeout(300)
            assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown in {tab}"
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"dashboard-{tab.lower().replace(' ', '-')}.png"), full_page=True)
        browser.close()


def wait_for_rerun(page) -> None:
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.wait_for_timeout(300)


def test_fixed_layouts_in_a_real_browser(served_dashboard):
    """The first-hour fixes, as a user sees them: wrapped strip, titled axes, enlarged grid, a quiet New seed."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(served_dashboard.url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
        wait_for_rerun(page)

        page.get_by_role("button", name="New seed").click()
        wait_for_rerun(page)
        assert "Session State API" not in served_dashboard.log(), "New seed must not log a widget warning"

        page.get_by_role("tab", name="Interpolate").click()
        panel = page.locator('[role="tabpanel"]:visible')
        steps = panel.get_by_role("slider", name="Steps")
        steps.focus()
        steps.press("End")  # the most steps the tab offers: 64
        wait_for_rerun(page)
        assert steps.get_attribute("aria-valuetext") == "64"
        strip = panel.locator('[data-testid="stImage"] img').first
        ratio = strip.evaluate("i => i.naturalWidth / i.naturalHeight")
        assert ratio < 8, f"a 64-step strip must wrap into rows (width/height {ratio:.1f}, one row would be ~60)"

        page.get_by_role("tab", name="Training").click()
        panel = page.locator('[role="tabpanel"]:visible')
        panel.locator('[data-testid="stVegaLiteChart"] svg').first.wait_for(timeout=30_000)
        texts = panel.locator('[data-testid="stVegaLiteChart"] text').all_text_contents()
        assert "training step (one batch each)" in texts and "binary cross-entropy (nats)" in texts
        assert "D loss on real" in texts and "d_loss_real" not in texts, "legends show names, not columns"
        grid = panel.locator('[data-testid="stImage"] img').first
        grid.wait_for(timeout=30_000)
        assert grid.evaluate("i => i.naturalWidth") >= 480, "the fixed-seed grid is shown enlarged"
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()


def test_the_class_picker_in_a_real_browser(tmp_path):
    """A conditional model: picking a class in Sample redraws the grid as that class, with no exception."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    synthetic.run_folder(tmp_path / "runs", "cond", conditional=True)
    with serving(tmp_path / "runs", tmp_path) as served, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(served.url, wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
        wait_for_rerun(page)
        panel = page.locator('[role="tabpanel"]:visible')
        before = panel.locator('[data-testid="stImage"] img').first.get_attribute("src")
        panel.locator('[data-testid="stSelectbox"]').filter(has_text="Class").click()
        page.get_by_role("option", name="Sneaker", exact=True).click()
        wait_for_rerun(page)
        after = panel.locator('[data-testid="stImage"] img').first
        after.wait_for(timeout=30_000)
        assert after.get_attribute("src") != before, "the grid is redrawn for the class picked"
        assert "truncation 1 · Sneaker ·" in panel.locator('[data-testid="stImageCaption"]').first.inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()
