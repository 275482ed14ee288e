"""export/explore.py: SeFa, GANSpace and class directions, each measured, written beside the model and hashed."""
import re

import numpy as np
import torch
from torch import nn

from core.formats import explore_npz
from core.spec import ModelSpec
from export import explore
from gan.models import build_from_spec


def test_sefa_directions_are_orthonormal_and_ranked():
    weight = torch.randn(300, 20, generator=torch.Generator().manual_seed(0)) * torch.linspace(3, 0.1, 20)
    vectors, values = explore.sefa(weight, 6)
    assert torch.allclose(vectors @ vectors.T, torch.eye(6), atol=1e-5)
    assert (values[:-1] >= values[1:]).all()
    # the top direction is the one the map stretches most
    assert (weight @ vectors[0]).norm() >= max((weight @ v).norm() for v in torch.linalg.qr(torch.randn(20, 20))[0].T)


def test_ganspace_finds_the_direction_the_first_layer_varies_most_along():
    """A first layer that only reads z[3] (through a nonlinearity): PCA of its activations points back to z[3]."""
    first = nn.Linear(8, 16)
    with torch.no_grad():
        first.weight.zero_()
        first.weight[:, 3] = torch.linspace(1, 2, 16)
        first.bias.zero_()
    generator = nn.Sequential(first, nn.SELU(), nn.Linear(16, 4))
    vectors, explained = explore.ganspace(generator, 8, count=2, samples=2048)
    assert abs(float(vectors[0][3])) > 0.99 and torch.allclose(vectors.norm(dim=1), torch.ones(2))
    assert explained[0] > 0.99


def brightness_labeller(images: torch.Tensor) -> torch.Tensor:
    """A stand-in classifier: class 0 for dark images, class 1 for bright ones (probabilities)."""
    bright = images.mean(dim=(1, 2, 3))
    p = torch.sigmoid((bright - 0.5) * 40)
    return torch.stack([1 - p, p], dim=1)


def test_class_directions_move_the_classifier_the_way_their_label_says():
    torch.manual_seed(0)
    spec = ModelSpec.of_preset("mlp")
    generator = build_from_spec(spec)[0].eval()
    data = explore.compute(generator, spec, brightness_labeller, ("dark", "bright"), images=2048)
    names = data.names
    assert "towards bright" in names and "towards dark" in names and data.kinds[0] == "ganspace"
    z = torch.randn(256, spec.latent_dim)

    def bright_share(direction: str) -> float:
        v = torch.from_numpy(data.vectors[names.index(direction)])
        return float(brightness_labeller(explore.generate_unit(generator, z + 3 * v, spec))[:, 1].mean())

    before = float(brightness_labeller(explore.generate_unit(generator, z, spec))[:, 1].mean())
    assert bright_share("towards bright") > before + 0.05 and bright_share("towards dark") < before - 0.05
    # two classes: the shares move by the same amount in opposite ways, both named, then the pixel change
    effect = data.effects[names.index("towards bright")]
    assert re.fullmatch(r"(bright \+(\d+)%, dark −\2%|dark −(\d+)%, bright \+\3%), pixels \d\.\d\d", effect), effect


def test_dcgan_gets_sefa_on_the_folded_map_and_identical_files_from_identical_weights():
    torch.manual_seed(0)
    spec = ModelSpec.of_preset("dcgan")
    generator = build_from_spec(spec)[0]
    data = explore.compute(generator, spec, images=256)
    assert data.kinds == ["sefa"] * explore.DIRECTIONS
    assert np.allclose(data.vectors @ data.vectors.T, np.eye(len(data.vectors)), atol=1e-5)
    again = explore.compute(generator, spec, images=256)
    assert explore_npz.to_bytes(data) == explore_npz.to_bytes(again), "the clock must not change the file"


def test_the_explore_budget_is_counted_in_arithmetic_not_time():
    assert explore.multiply_adds(build_from_spec(ModelSpec.of_preset("dcgan"))[0], ModelSpec.of_preset("dcgan")) \
        == 100 * 7 * 7 * 128 + 7 * 7 * 128 * 64 * 25 + 14 * 14 * 64 * 1 * 25
    frog = ModelSpec.of_preset("frog")
    assert explore.images_affordable(build_from_spec(frog)[0], frog) < 300 < explore.images_affordable(
        build_from_spec(ModelSpec.of_preset("dcgan"))[0], ModelSpec.of_preset("dcgan"))
