"""--conditional end to end: the models take a class, training resumes exactly, the export takes a class input
and matches PyTorch, the evaluation measures agreement with the class asked for."""
import json

import numpy as np
import pytest
import torch

from core.spec import PRESETS
from evaluation.evaluate import main as evaluate_main
from export.to_onnx import main as export_main
from gan import checkpoint
from gan.models import ConditionalGenerator, ProjectionDiscriminator, build, mixed_classes, one_hot
from inference import runtime
from tests import synthetic
from train.dcgan import main as train_main


def count(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["mlp", "dcgan", "frog"])
def test_the_class_changes_what_g_draws_and_what_d_judges(name):
    torch.manual_seed(0)
    generator, discriminator = build(name, num_classes=10)
    assert isinstance(generator, ConditionalGenerator) and isinstance(discriminator, ProjectionDiscriminator)
    plain_g, plain_d = build(name)
    # what the conditional variant adds: G's first layer reads the one-hot class too, D projects the class
    first = next(m for m in plain_g.modules() if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))
    per_input = first.weight.numel() // first.in_features if isinstance(first, torch.nn.Linear) else None
    assert count(generator) - count(plain_g) == 10 * per_input
    assert count(discriminator) - count(plain_d) == 10 * discriminator.head.in_features
    generator.eval()
    z = torch.randn(2, PRESETS[name].latent_dim)
    a, b = generator(z, one_hot(torch.tensor([0, 0]), 10)), generator(z, one_hot(torch.tensor([3, 3]), 10))
    assert not torch.allclose(a, b)
    assert not torch.allclose(discriminator(a, one_hot(torch.tensor([0, 0]), 10)),
                              discriminator(a, one_hot(torch.tensor([3, 3]), 10)))


def test_the_book_models_are_unchanged_when_not_conditional():
    generator, discriminator = build("dcgan")
    assert (count(generator), count(discriminator)) == (840_321, 212_865)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory, fashion_dir):
    out = tmp_path_factory.mktemp("cond")
    common = ["--data-dir", str(fashion_dir), "--batch-size", "8", "--out", str(out), "--checkpoint-every", "0",
              "--conditional", "--ema", "0.9", "--log-every", "2"]
    assert train_main(common + ["--name", "straight", "--max-steps", "8"]) == 0
    assert train_main(common + ["--name", "split", "--max-steps", "3"]) == 0
    assert train_main(["--resume", str(out / "split"), "--max-steps", "8"]) == 0
    return out


def test_a_conditional_run_resumes_bit_identically(conditional_run):
    a, b = (checkpoint.load(conditional_run / name / "last.pt") for name in ("straight", "split"))
    assert a["model"]["conditional"] and len(a["model"]["class_names"]) == 10
    assert "embed.weight" in a["discriminator"] and a["generator"]["net.0.weight"].shape[1] == 100 + 10
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"


def test_a_conditional_export_takes_a_class_and_matches_pytorch(conditional_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(conditional_run / "straight", run)
    assert export_main([str(run), "--explore-images", "64"]) == 0
    assert "batch 64:" in capsys.readouterr().out  # the parity proof ran
    gen = runtime.OnnxGenerator(run / "generator.onnx")
    assert gen.class_names == synthetic.CLASS_NAMES and [i.name for i in gen.session.get_inputs()] == ["z", "class"]
    z = gen.latents(3, 10)
    generator, _ = checkpoint.build_generators(checkpoint.load(run / "last.pt"))
    with torch.no_grad():
        reference = generator(torch.from_numpy(z), mixed_classes(10, 10)).numpy()
    assert np.abs(gen.run(z) - reference).max() < 1e-4  # by default each class in turn, as in PyTorch
    assert not np.array_equal(gen.images(z, 2), gen.images(z, 7))
    explore, problem = runtime_explore(gen)
    assert problem is None and not any(kind == "class" for kind in explore.kinds)  # a class is asked for, not steered


def runtime_explore(gen):
    from inference.latent_space import load_explore

    return load_explore(gen)


def test_evaluation_reports_agreement_with_the_class_asked_for(conditional_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(conditional_run / "straight", run)
    assert evaluate_main([str(run), "--samples", "200"]) == 0
    report = json.loads((run / "eval.json").read_text())
    for name, row in report["generators"].items():
        assert 0 <= row["class_agreement"] <= 1
        per_class = report["per_class"][name]
        assert list(per_class) == list(synthetic.CLASS_NAMES)
        assert all(0 <= v["class_agreement"] <= 1 and v["fid"] >= 0 for v in per_class.values())
    assert "generator, per class:  T-shirt/top " in capsys.readouterr().out
