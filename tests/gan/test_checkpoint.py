"""gan/checkpoint.py: a checkpoint round-trips, rebuilds its generators from the spec, and refuses the rest."""
import pytest
import torch

from core.errors import UserError
from core.spec import ModelSpec
from gan import checkpoint
from gan.models import build_from_spec


def saved(tmp_path, spec, ema=True):
    g, d = build_from_spec(spec)
    state = {"generator": g.state_dict(), "discriminator": d.state_dict(),
             "generator_ema": g.state_dict() if ema else None, "step": 5, "epoch": 0, "model": spec.to_dict(),
             "config": {"model": spec.preset}}
    checkpoint.save(state, tmp_path / "last.pt")
    return g


@pytest.mark.parametrize("name", ["mlp", "frog"])
def test_round_trip_rebuilds_g_and_its_ema_from_the_spec(tmp_path, name):
    spec = ModelSpec.of_preset(name, leaky_slope=0.3) if name == "frog" else ModelSpec.of_preset(name)
    original = saved(tmp_path, spec).eval()
    state = checkpoint.load(checkpoint.resolve(tmp_path))
    assert checkpoint.spec_of(state) == spec
    generator, ema = checkpoint.build_generators(state)
    z = torch.randn(2, spec.latent_dim)
    with torch.no_grad():
        assert torch.equal(generator(z), original(z)) and torch.equal(ema(z), original(z))


def test_weights_that_do_not_fit_the_spec_are_one_sentence(tmp_path):
    saved(tmp_path, ModelSpec.of_preset("mlp"), ema=False)
    state = checkpoint.load(tmp_path / "last.pt")
    state["model"]["latent_dim"] = 50
    with pytest.raises(UserError, match="do not fit the 'mlp' model"):
        checkpoint.build_generators(state)
    state["model"]["image_shape"] = "28x28"
    with pytest.raises(UserError, match="model description is unusable"):
        checkpoint.spec_of(state)


def test_other_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    torch.save({"format": checkpoint.FORMAT, "version": 99}, tmp_path / "future.pt")
    for name, message in [("missing.pt", "does not exist"), ("notes.txt", "corrupt or truncated"),
                          ("foreign.pt", "not a GAN workbench checkpoint"), ("future.pt", "version 99")]:
        with pytest.raises(UserError, match=message):
            checkpoint.load(tmp_path / name)
    with pytest.raises(UserError, match="holds no checkpoint \\(last.pt\\)"):
        checkpoint.resolve(tmp_path)
