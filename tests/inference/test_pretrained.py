"""pretrained/: the generators we ship load, generate, carry their own explore data, and fit the size budget."""
import numpy as np
import pytest

from core.formats.eval_json import read as read_eval
from core.formats.metrics_jsonl import read_metrics
from core.runs import discover
from inference import model_card
from inference.latent_space import load_explore
from inference.runtime import OnnxGenerator
from tests.conftest import ROOT

PRETRAINED = ROOT / "pretrained"
SHIPPED = sorted(p for p in PRETRAINED.iterdir() if p.is_dir()) if PRETRAINED.is_dir() else []
BUDGET_BYTES = 50 << 20


def test_pretrained_fits_its_budget_and_the_dashboard_lists_every_run():
    assert SHIPPED, "pretrained/ ships no runs"
    total = sum(p.stat().st_size for p in PRETRAINED.rglob("*") if p.is_file())
    assert total <= BUDGET_BYTES, f"pretrained/ is {total / 2**20:.1f} MiB (budget 50)"
    assert {run.name for run in discover(PRETRAINED).runs} == {p.name for p in SHIPPED}


@pytest.mark.parametrize("run", SHIPPED, ids=[p.name for p in SHIPPED])
def test_each_shipped_run_has_its_record_and_working_generators(run):
    records, bad, problem = read_metrics(run / "metrics.jsonl", PRETRAINED)
    assert problem is None and bad == 0 and records
    assert any("fid" in r for r in records) or (run / "quality_curve.jsonl").is_file(), "no quality over time"
    report, problem = read_eval(run / "eval.json", PRETRAINED)
    assert problem is None and "generator" in report["generators"]
    models = sorted(run.glob("*.onnx"))
    assert models
    for path in models:
        gen = OnnxGenerator(path, root=PRETRAINED)
        images = gen.images(gen.latents(seed=0, count=4))
        c, h, w = gen.info.spec.image_shape
        assert images.shape == (4, h, w, c) and images.dtype == np.uint8 and images.std() > 0
        data, problem = load_explore(gen, PRETRAINED)
        assert problem is None and len(data.names) == len(data.vectors) > 0
    card = (run / "README.md").read_text()
    assert card.startswith("---\nlicense:") and model_card.MARKER in card and "## Evaluation" in card
