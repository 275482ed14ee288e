"""The feature classifiers whose features the quality metrics use: one per dataset family.

`python -m evaluation.classifier` trains the Fashion-MNIST one (`evaluation/assets/fashion_classifier.pt`,
1x28x28); `python -m evaluation.classifier --dataset cifar10` the CIFAR-10 one
(`evaluation/assets/cifar_classifier.pt`, 3x32x32). Both files are committed (fp16 weights, a few MB) with their
test accuracy and the command that made them. Distances in their penultimate features are
*classifier-feature* FID/KID: meaningful for comparing our own runs, not comparable with
published Inception-FID numbers.
"""
from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from core.errors import ArgumentParser, UserError, cli_entry, run_main
from core.files import atomic_write

from gan import data as datasets

ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS = ASSETS / "fashion_classifier.pt"
FORMAT = "gan-workbench-classifier"
FEATURES = 128


class FashionClassifier(nn.Module):
    """Input (B, 1, 28, 28) in [0, 1]; `features` gives (B, 128), `forward` (B, 10) logits."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),   # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 7, 7)
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURES), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - 0.2860) / 0.3530)  # Fashion-MNIST mean/std

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def _conv(cin: int, cout: int, pool: bool = False) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.inner = nn.Sequential(_conv(channels, channels), _conv(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class CifarClassifier(nn.Module):
    """A half-width ResNet-9 (the DAWNBench CIFAR-10 design at widths 32-256, ~95 M multiply-adds per image).

    Input (B, 3, 32, 32) in [0, 1]; `features` gives (B, 256), `forward` (B, 10) logits.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            _conv(3, w),                                  # (B, 32, 32, 32)
            _conv(w, 2 * w, pool=True), _Residual(2 * w),  # (B, 64, 16, 16)
            _conv(2 * w, 4 * w, pool=True),               # (B, 128, 8, 8)
            _conv(4 * w, 8 * w, pool=True), _Residual(8 * w),  # (B, 256, 4, 4)
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),        # (B, 256)
        )
        self.head = nn.Linear(8 * w, 10)
        self.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features) * 0.125  # the ResNet-9 recipe's logit scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


@dataclass(frozen=True)
class Kind:
    """One classifier family: the images it reads, the data it learns from, its weights file."""

    name: str
    model: type
    image_shape: tuple[int, int, int]
    dataset: str
    weights: Path
    class_names: tuple[str, ...]
    epochs: int
    min_accuracy: float  # what its committed weights must reach on the real test set


KINDS = {
    "fashion-mnist": Kind("fashion-mnist", FashionClassifier, (1, 28, 28), "fashion-mnist", WEIGHTS,
                          datasets.FASHION_CLASSES, 8, 0.91),
    "cifar10": Kind("cifar10", CifarClassifier, (3, 32, 32), "cifar10", ASSETS / "cifar_classifier.pt",
                    datasets.CIFAR_CLASSES, 8, 0.85),
}


def kind_for(image_shape) -> Kind | None:
    """The classifier that reads images of this shape, if any."""
    return next((k for k in KINDS.values() if tuple(k.image_shape) == tuple(image_shape)), None)


def load(path: str | Path = WEIGHTS) -> tuple[nn.Module, dict]:
    """The trained classifier in eval mode, and its record (kind, accuracy, command); refuses other files.

    Files written before the CIFAR-10 classifier existed carry no "kind": they are the Fashion-MNIST one.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"classifier weights {path} not found; make them with: python -m evaluation.classifier")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means this is not our weights file
        raise UserError(f"{path} is not a readable classifier weights file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a GAN workbench classifier weights file")
    kind = KINDS.get(state.get("kind", "fashion-mnist"))
    if kind is None:
        raise UserError(f"{path} is a classifier of unknown kind {str(state.get('kind'))[:40]!r}")
    model = kind.model()
    try:
        model.load_state_dict(state["weights"])
    except (KeyError, RuntimeError) as exc:
        raise UserError(f"{path} does not fit the {kind.name} classifier ({str(exc).splitlines()[0]})") from None
    return model.eval(), {"kind": kind.name, **{k: v for k, v in state.items() if k not in ("weights", "kind")}}


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Predicted classes of uint8 (N, C, H, W) images (colour images: the horizontal flip averaged in)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float() / 255
        logits = model(x) + model(x.flip(3)) if x.shape[1] == 3 else model(x)
        out.append(logits.argmax(1))
    return torch.cat(out)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predict(model, images) == labels).float().mean().item()


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 32x32 crops of 4-pixel reflect-padded images, and random horizontal flips; (N, C, H, W)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dy, dx = (torch.randint(0, 9, (n,), generator=generator) for _ in range(2))
    rows, cols = dy[:, None] + torch.arange(h), dx[:, None] + torch.arange(w)  # (N, H), (N, W)
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def train(kind: Kind, data_dir: str | None, epochs: int, seed: int) -> tuple[nn.Module, float, float]:
    """Fit a classifier of `kind`; returns it, its test accuracy and the seconds spent."""
    torch.manual_seed(seed)
    train_set, test_set = (datasets.load(kind.dataset, split, data_dir) for split in ("train", "test"))
    model = kind.model()
    if kind.name == "cifar10":  # SGD + one-cycle, label smoothing and crop/flip augmentation (the ResNet-9 recipe)
        batch = 128
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.2, total_steps=epochs * (len(train_set) // batch),
                                                       pct_start=0.25)
        smoothing = 0.1
    else:
        batch = 128
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * (len(train_set) // batch))
        smoothing = 0.0
    generator = torch.Generator().manual_seed(seed)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        for i in tqdm(range(len(train_set) // batch), desc=f"epoch {epoch + 1}/{epochs}", leave=False):
            idx = order[i * batch:(i + 1) * batch]
            x = train_set.images[idx].float() / 255
            if kind.name == "cifar10":
                x = augment(x, generator)
            loss = F.cross_entropy(model(x), train_set.labels[idx], label_smoothing=smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, test_set.images, test_set.labels):.4f}", flush=True)
    model.half().float()  # the weights as stored (fp16, see `stored`): the recorded accuracy is theirs
    return model, accuracy(model, test_set.images, test_set.labels), time.time() - start


def stored(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float tensors as fp16, which halves the committed files (load_state_dict casts them back to fp32).
    Training rounds the model to fp16 before measuring, so the file holds exactly what was measured, and
    the ONNX copy can keep the same fp16 values losslessly (export/classifier_onnx.py)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m evaluation.classifier", description="Train a feature classifier for the "
                            "quality metrics (Fashion-MNIST, or CIFAR-10 with --dataset cifar10).")
    parser.add_argument("--dataset", choices=tuple(KINDS), default="fashion-mnist")
    parser.add_argument("--data-dir", help="dataset folder (default: the usual search)")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default: 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="weights file (default: the committed one in evaluation/assets/)")
    args = parser.parse_args(argv)
    kind = KINDS[args.dataset]
    model, acc, seconds = train(kind, args.data_dir, args.epochs or kind.epochs, args.seed)
    command = "python -m evaluation.classifier " + " ".join(argv if argv is not None else sys.argv[1:])
    record = {"format": FORMAT, "kind": kind.name, "test_accuracy": acc, "command": command.strip(), "seed": args.seed,
              "epochs": args.epochs or kind.epochs, "train_seconds": round(seconds, 1),
              "torch": str(torch.__version__), "weights": stored(model.state_dict())}
    buffer = io.BytesIO()
    torch.save(record, buffer)
    output = Path(args.output or kind.weights)
    atomic_write(output, buffer.getvalue())
    print(f"test accuracy {acc:.4f}; wrote {output}")
    return 0


if __name__ == "__main__":
    run_main(main)
