"""inference/web.py and the page it writes: the same latents as numpy, the files a site needs, and the page
itself in a real browser with the network blocked (Playwright + the system Chromium)."""
import functools
import http.server
import io
import json
import shutil
import subprocess
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.formats import explore_npz
from inference import web
from inference.runtime import OnnxGenerator, latents
from tests import synthetic
from tests.conftest import ROOT

NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORT_INSTALLED = all((web.ORT_DIST / name).is_file() for name in web.ORT_FILES)
needs_ort = pytest.mark.skipif(not ORT_INSTALLED, reason="ONNX Runtime Web is not installed: npm ci --prefix inference/web")


@pytest.mark.skipif(NODE is None, reason="no Node.js to run the page's JavaScript")
def test_the_pages_latents_are_numpys_bit_for_bit(tmp_path):
    seeds = [0, 1, 42, 7919, 2**31 - 1, 2**32 + 5, 123456789012]
    script = tmp_path / "latents.mjs"
    script.write_text(f'import {{ latents }} from "{ROOT / "inference" / "web" / "latent.js"}";\n'
                      "const out = {};\n"
                      f"for (const s of {json.dumps(seeds)}) out[s] = Array.from(latents(s, 7, 100, 0.7));\n"
                      "console.log(JSON.stringify(out));\n")
    done = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for seed, values in json.loads(done.stdout).items():
        assert np.array_equal(np.array(values, np.float32), latents(int(seed), 7, 100, 0.7).ravel()), seed


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return synthetic.run_folder(tmp_path_factory.mktemp("runs"))


@needs_ort
def test_the_site_holds_what_the_page_needs_within_its_budget(run, tmp_path):
    files = web.write(run, tmp_path / "site")
    names = {p.name for p in (tmp_path / "site").iterdir()}
    assert names == set(files) and {*web.PAGE_FILES, *web.ORT_FILES, "facts.json", "directions.json", "README.md",
                                    "generator_ema.onnx"} <= names
    assert sum(p.stat().st_size for p in (tmp_path / "site").iterdir()) <= web.SITE_BUDGET_BYTES
    facts = json.loads(files["facts.json"])
    assert (facts["latent_dim"], facts["image_shape"], facts["model"]) == (8, [1, 28, 28], "generator_ema.onnx")
    assert "FID 50.0 (synthetic features)" in facts["line"]
    stored = explore_npz.parse((run / "generator_ema.explore.npz").read_bytes(), 8, (1, 28, 28))
    directions = json.loads(files["directions.json"])
    assert directions["names"] == stored.names and np.allclose(directions["vectors"], stored.vectors, atol=1e-6)
    with zipfile.ZipFile(io.BytesIO(web.zipped(files, "run"))) as archive:  # the dashboard's download
        assert sorted(archive.namelist()) == sorted(f"run/{name}" for name in files)
    web.write(run, tmp_path / "site")  # a page is replaced whole
    (tmp_path / "notes").mkdir()
    with pytest.raises(web.UserError, match="is not a page of this tool"):
        web.write(run, tmp_path / "notes")


@needs_ort
def test_a_run_without_explore_data_still_gets_sample_and_interpolate(tmp_path):
    bare = synthetic.run_folder(tmp_path / "runs", explore=False)
    files = web.site_files(bare)
    assert "directions.json" not in files and json.loads(files["facts.json"])["directions"] is None


def test_without_onnx_runtime_web_the_command_says_how_to_install_it(run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(web, "ORT_DIST", tmp_path / "nowhere")
    assert web.main([str(run), "--out", str(tmp_path / "site")]) == 2
    assert "npm ci --prefix inference/web" in capsys.readouterr().err and not (tmp_path / "site").exists()


def serve(run, site):
    """The run's page written to `site` and served on localhost: (url, site, server)."""
    web.write(run, site, run / "generator.onnx")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", site, server


@pytest.fixture
def served(run, tmp_path):
    url, site, server = serve(run, tmp_path / "site")
    yield url, site
    server.shutdown()


@needs_ort
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
def test_the_page_in_a_real_browser_offline(served, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from tests.dashboard.test_browser import CHROMIUM_FLAGS

    url, site = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(accept_downloads=True)
        outside = []
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                   else (outside.append(route.request.url), route.abort()))
        problems = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        raw = np.array(page.evaluate("workbench.generate(42, 8)"), np.float32)
        gen = OnnxGenerator(site / "generator.onnx")
        assert np.abs(raw - gen.run(gen.latents(42, 8)).ravel()).max() < 1e-4, "the page computes what Python does"
        assert not page.locator("#class").is_visible(), "no class picker for an unconditional model"

        with page.expect_download() as download:
            page.click("#download")
        with Image.open(io.BytesIO(download.value.path().read_bytes())) as png:
            assert png.format == "PNG" and png.size[0] > 28

        page.click("nav button[data-view=directions]")
        page.wait_for_function("document.querySelector('#directions-status').textContent.includes('images')")
        before = page.locator("#moved").evaluate("c => c.toDataURL()")
        page.locator("#sliders input").first.fill("3")
        page.wait_for_function(f"document.querySelector('#moved').toDataURL() !== {json.dumps(before)}",
                               timeout=30_000)
        assert problems == [] and outside == [], (problems, outside)
        browser.close()


@needs_ort
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
def test_a_conditional_page_draws_the_class_picked(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from tests.dashboard.test_browser import CHROMIUM_FLAGS

    run = synthetic.run_folder(tmp_path / "runs", conditional=True)
    url, site, server = serve(run, tmp_path / "site")
    assert json.loads((site / "facts.json").read_text())["classes"] == list(synthetic.CLASS_NAMES)
    gen = OnnxGenerator(site / "generator.onnx")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            page = browser.new_page()
            problems = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=120_000)
            z = gen.latents(42, 4)
            walk = np.linspace(1, 0, 4)[:, None] * np.eye(10)[5] + np.linspace(0, 1, 4)[:, None] * np.eye(10)[8]
            for pick, classes in [("null", None), ("7", 7), ("[5, 8]", walk.astype(np.float32))]:
                raw = np.array(page.evaluate(f"workbench.generate(42, 4, 1, {pick})"), np.float32)
                assert np.abs(raw - gen.run(z, classes).ravel()).max() < 1e-4, pick
            before = page.locator("#grid").evaluate("c => c.toDataURL()")
            assert page.locator("#class").is_visible()
            page.select_option("#class", label="Sneaker")
            page.wait_for_function(f"document.querySelector('#grid').toDataURL() !== {json.dumps(before)}",
                                   timeout=30_000)
            assert problems == [], problems
            browser.close()
    finally:
        server.shutdown()
