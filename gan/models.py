"""The book GANs as PyTorch modules, reproduced layer for layer from the Keras originals.

`build(name)` returns `(generator, discriminator)`. The discriminators return *logits*:
the books' final sigmoid lives in the loss (`BCEWithLogits`), which is the same function
but cannot overflow. Keras defaults are kept where they change results: Glorot-uniform
kernels with zero biases, BatchNorm momentum 0.99 / epsilon 1e-3, and "same" padding that
gives the Keras output sizes.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from core.spec import PRESETS, ModelSpec

from .dropout import Dropout


class MinibatchStdDev(nn.Module):
    """Appends one feature map holding the batch's mean standard deviation (Karras et al. 2018).

    Lets D see statistics across the batch, the cheap form of the minibatch discrimination
    that Géron names against mode collapse: a collapsed G produces a tell-tale low value.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.float().std(dim=0, unbiased=False).mean().to(x.dtype)
        return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


def _keras_init(module: nn.Module) -> None:
    """Keras layer defaults: glorot_uniform kernels, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _keras_bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=0.01, eps=1e-3)


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


def mlp_gan(latent_dim: int = 30, minibatch_std: bool = False) -> tuple[nn.Module, nn.Module]:
    generator = nn.Sequential(
        nn.Linear(latent_dim, 100), nn.SELU(),
        nn.Linear(100, 150), nn.SELU(),
        nn.Linear(150, 28 * 28), nn.Sigmoid(),
        Reshape(1, 28, 28),
    )
    disc_layers: list[nn.Module] = [nn.Flatten(), nn.Linear(28 * 28, 150), nn.SELU(), nn.Linear(150, 100), nn.SELU()]
    if minibatch_std:  # treat the 100 features as a 100×1×1 map
        disc_layers += [Reshape(100, 1, 1), MinibatchStdDev(), nn.Flatten()]
    disc_layers.append(nn.Linear(100 + int(minibatch_std), 1))
    return generator, nn.Sequential(*disc_layers)


def dcgan(latent_dim: int = 100, minibatch_std: bool = False) -> tuple[nn.Module, nn.Module]:
    generator = nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * 128),
        Reshape(128, 7, 7),                                               # (B, 128, 7, 7)
        _keras_bn(128),
        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1), nn.SELU(),  # (B, 64, 14, 14)
        _keras_bn(64),
        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1), nn.Tanh(),    # (B, 1, 28, 28)
    )
    disc_layers: list[nn.Module] = [
        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2), Dropout(0.4),     # (B, 64, 14, 14)
        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.2), Dropout(0.4),   # (B, 128, 7, 7)
    ]
    channels = 128
    if minibatch_std:
        disc_layers.append(MinibatchStdDev())
        channels += 1
    disc_layers += [nn.Flatten(), nn.Linear(channels * 7 * 7, 1)]
    return generator, nn.Sequential(*disc_layers)


def frog_gan(latent_dim: int = 32, minibatch_std: bool = False, leaky_slope: float = 0.2) -> tuple[nn.Module, nn.Module]:
    """Chollet's frog DCGAN. Keras 2 used LeakyReLU slope 0.3, Keras 3 uses 0.2: we default
    to 0.2 (the slope the DCGAN paper uses) and expose it as `--leaky-slope`."""
    act = lambda: nn.LeakyReLU(leaky_slope)  # noqa: E731 - one fresh module per layer
    generator = nn.Sequential(
        nn.Linear(latent_dim, 128 * 16 * 16), act(),
        Reshape(128, 16, 16),                                    # (B, 128, 16, 16)
        nn.Conv2d(128, 256, 5, padding=2), act(),
        nn.ConvTranspose2d(256, 256, 4, stride=2, padding=1), act(),  # (B, 256, 32, 32)
        nn.Conv2d(256, 256, 5, padding=2), act(),
        nn.Conv2d(256, 256, 5, padding=2), act(),
        nn.Conv2d(256, 3, 7, padding=3), nn.Tanh(),              # (B, 3, 32, 32)
    )
    disc_layers: list[nn.Module] = [
        nn.Conv2d(3, 128, 3), act(),                  # (B, 128, 30, 30)
        nn.Conv2d(128, 128, 4, stride=2), act(),      # (B, 128, 14, 14)
        nn.Conv2d(128, 128, 4, stride=2), act(),      # (B, 128, 6, 6)
        nn.Conv2d(128, 128, 4, stride=2), act(),      # (B, 128, 2, 2)
    ]
    channels = 128
    if minibatch_std:
        disc_layers.append(MinibatchStdDev())
        channels += 1
    disc_layers += [nn.Flatten(), Dropout(0.4), nn.Linear(channels * 2 * 2, 1)]
    return generator, nn.Sequential(*disc_layers)


_BUILDERS = {"mlp": mlp_gan, "dcgan": dcgan, "frog": frog_gan}
class ConditionalGenerator(nn.Module):
    """A book generator that also reads a class: its first layer takes [z, onehot(y)] (Mirza & Osindero 2014).
    The one-hot row feeds that layer directly: a learned class code in between would only add a direction the
    optimiser drifts along freely (code and layer can rotate together), which G's EMA averages into blur
    (docs/conditional.md). A row can mix two classes, to walk between them."""

    def __init__(self, net: nn.Sequential, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, onehot.to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """A book discriminator with Miyato & Koyama's (2018) class projection: D(x, y) = ψ(φ(x)) + ⟨V y, φ(x)⟩,
    where φ is D's body up to its last Dense layer ψ and V a learned class embedding of φ's size."""

    def __init__(self, net: nn.Sequential, num_classes: int):
        super().__init__()
        self.body, self.head = net[:-1], net[-1]
        self.embed = nn.Linear(num_classes, self.head.in_features, bias=False)
        nn.init.xavier_uniform_(self.embed.weight)

        self.classifier: nn.Linear | None = None  # the auxiliary class head of --class-loss (add_class_head)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """(B, 1) logits; with a class head, (B, 1 + K): the logit, then the K class logits (split_class_logits),
        so DDP and CUDA graphs see one output as before."""
        features = self.body(x)
        logit = self.head(features) + (self.embed(onehot.to(features.dtype)) * features).sum(1, keepdim=True)
        return logit if self.classifier is None else torch.cat([logit, self.classifier(features)], dim=1)


def add_class_head(discriminator: ProjectionDiscriminator) -> ProjectionDiscriminator:
    """AC-GAN's auxiliary classifier (Odena et al. 2017) on D's features, in place: a Dense layer to the class
    logits. The projection only asks "is this a real image of class y?"; the head also asks D which class an image
    shows, and G's loss then rewards images of unmistakable class (docs/conditional.md)."""
    discriminator.classifier = nn.Linear(discriminator.head.in_features, discriminator.embed.in_features)
    return discriminator


def split_class_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's (B, 1) real/fake logits and its (B, K) class logits, or None without a class head."""
    return (logits, None) if logits.shape[1] == 1 else (logits[:, :1], logits[:, 1:])


def call(module: nn.Module, x: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
    """module(x), or module(x, classes) for a conditional one: how every caller runs G and D."""
    return module(x) if onehot is None else module(x, onehot)


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).float()


def mixed_classes(count: int, num_classes: int, device=None) -> torch.Tensor:
    """One-hot rows 0, 1, …, K-1, 0, 1, …: every class in turn, as the sample grids and evaluations ask."""
    return one_hot(torch.arange(count, device=device) % num_classes, num_classes)


def build(name: str, minibatch_std: bool = False, leaky_slope: float | None = None,
          latent_dim: int | None = None, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """Return `(generator, discriminator)` for a preset, Keras-initialised, in train mode; with `num_classes`,
    their conditional versions (the book layers unchanged but G's first, which also reads the class code)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    latent = latent_dim or preset.latent_dim
    kwargs = {"latent_dim": latent + num_classes, "minibatch_std": minibatch_std}
    if name == "frog":
        kwargs["leaky_slope"] = preset.leaky_slope if leaky_slope is None else leaky_slope
    generator, discriminator = _BUILDERS[name](**kwargs)
    _keras_init(generator)
    _keras_init(discriminator)
    if num_classes:
        return ConditionalGenerator(generator, num_classes), ProjectionDiscriminator(discriminator, num_classes)
    return generator, discriminator


def build_from_spec(spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
    """`(generator, discriminator)` shaped as the spec says (weights freshly initialised)."""
    return build(spec.preset, spec.minibatch_std, spec.leaky_slope, spec.latent_dim, spec.num_classes)


def add_spectral_norm(discriminator: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every weight layer of D, in place.

    Dividing each weight by its largest singular value (one power iteration per forward pass)
    bounds D's Lipschitz constant, so D cannot grow its logits without limit and its gradients
    to G stay informative: the modern recipe's main stabiliser. The architecture is unchanged."""
    for module in list(discriminator.modules()):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.utils.parametrizations.spectral_norm(module)
    return discriminator


@contextlib.contextmanager
def evaluating(module: nn.Module):
    """The module in eval mode for the block, then back in the mode it was found in."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def check_image_batch(x: torch.Tensor, image_shape: tuple[int, int, int], what: str) -> None:
    """Shape check at module boundaries, with a message a user can act on."""
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(f"{what} has shape {tuple(x.shape)}, expected (batch, {', '.join(map(str, image_shape))})")
