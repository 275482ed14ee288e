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
from gan.models import ConditionalGenerator, ProjectionDiscriminator, add_class_head, build, mixed_classes, one_hot
from inference import runtime
from tests import synthetic
from train.dcgan import main as train_main
from train.step import Nets, StepOptions, adam, train_step


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


def test_the_class_loss_teaches_d_the_classes_and_pulls_g_towards_the_class_asked_for():
    torch.manual_seed(0)
    g, d = build("mlp", num_classes=3)
    add_class_head(d)
    assert d(torch.rand(4, 1, 28, 28), one_hot(torch.tensor([0, 1, 2, 0]), 3)).shape == (4, 1 + 3)
    moved = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(1)  # the same dropout masks in both steps
        g_copy, d_copy = build("mlp", num_classes=3)
        g_copy.load_state_dict(g.state_dict())
        d_copy = add_class_head(d_copy)
        d_copy.load_state_dict(d.state_dict())
        train_step(Nets(g_copy, d_copy), adam(g_copy.parameters(), 1e-3), adam(d_copy.parameters(), 1e-3),
                   torch.rand(6, 1, 28, 28), 30, torch.Generator().manual_seed(2), StepOptions(num_classes=3, class_loss=weight),
                   real_classes=torch.tensor([0, 1, 2, 0, 1, 2]))
        moved[weight] = (not torch.equal(d_copy.classifier.weight, d.classifier.weight),
                         torch.cat([p.flatten() for p in g_copy.parameters()]))
    assert moved[1.0][0] and not moved[0.0][0], "only the class loss trains D's class head"
    assert not torch.equal(moved[0.0][1], moved[1.0][1]), "and it changes G's step"


def test_the_class_loss_needs_a_conditional_run(tmp_path, capsys):
    assert train_main(["--class-loss", "1", "--max-steps", "1", "--out", str(tmp_path)]) != 0
    assert "--class-loss needs --conditional" in capsys.readouterr().err and not any(tmp_path.iterdir())


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
    with_class_loss = common + ["--class-loss", "0.5", "--recipe", "modern"]
    assert train_main(with_class_loss + ["--name", "ac-straight", "--max-steps", "8"]) == 0
    assert train_main(with_class_loss + ["--name", "ac-split", "--max-steps", "3"]) == 0
    assert train_main(["--resume", str(out / "ac-split"), "--max-steps", "8"]) == 0
    return out


@pytest.mark.parametrize("prefix", ["", "ac-"])
def test_a_conditional_run_resumes_bit_identically(conditional_run, prefix):
    a, b = (checkpoint.load(conditional_run / f"{prefix}{name}" / "last.pt") for name in ("straight", "split"))
    assert ("classifier.bias" in a["discriminator"]) == (prefix == "ac-"), "--class-loss gives D its class head"
    assert a["model"]["conditional"] and len(a["model"]["class_names"]) == 10
    assert any(k.startswith("embed.") for k in a["discriminator"]) and a["generator"]["net.0.weight"].shape[1] == 100 + 10
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"


def test_the_class_head_is_logged_beside_the_losses_and_resumes_with_them(conditional_run):
    from core.formats.metrics_jsonl import CLASS_METRICS, read_metrics

    def training(name):
        return [r for r in read_metrics(conditional_run / name / "metrics.jsonl")[0] if "g_loss" in r]

    assert not any(k in r for r in training("straight") for k in CLASS_METRICS), "no head, nothing logged"
    straight, split = training("ac-straight"), training("ac-split")
    assert [r["step"] for r in straight] == [2, 4, 6, 8]
    for record in straight:
        assert 0 <= record["class_acc_real"] <= 1 and 0 <= record["class_acc_fake"] <= 1
        assert record["class_loss_real"] > 0 and record["class_loss_fake"] > 0
    same_window = {2, 6, 8}  # the split run logged steps 2 and 3, then 4 alone after resuming
    assert [[r[k] for k in CLASS_METRICS] for r in split if r["step"] in same_window] == [
        [r[k] for k in CLASS_METRICS] for r in straight if r["step"] in same_window]


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
