"""The Fashion-MNIST classifier whose features the quality metrics use.

`python -m train.classifier` trains it and writes `train/assets/fashion_classifier.pt`
(committed, ~1.7 MB) with its test accuracy and the command that made it. Distances in its
128-d penultimate features are *classifier-feature* FID/KID: meaningful for comparing our
own runs, not comparable with published Inception-FID numbers.
"""
from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from core.errors import ArgumentParser, UserError, cli_entry
from core.files import atomic_write

from . import data as datasets

WEIGHTS = Path(__file__).resolve().parent / "assets" / "fashion_classifier.pt"
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def load(path: str | Path = WEIGHTS) -> tuple[FashionClassifier, dict]:
    """The trained classifier in eval mode, and its record (accuracy, command); refuses other files."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"classifier weights {path} not found; make them with: python -m train.classifier")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means this is not our weights file
        raise UserError(f"{path} is not a readable classifier weights file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a GAN workbench classifier weights file")
    model = FashionClassifier()
    try:
        model.load_state_dict(state["weights"])
    except (KeyError, RuntimeError) as exc:
        raise UserError(f"{path} does not fit the classifier ({str(exc).splitlines()[0]})") from None
    return model.eval(), {k: v for k, v in state.items() if k != "weights"}


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float() / 255
        correct += (model(x).argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m train.classifier", description="Train the Fashion-MNIST feature classifier.")
    parser.add_argument("--data-dir", help="Fashion-MNIST folder (default: the usual search)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(WEIGHTS))
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train, test = (datasets.load("fashion-mnist", split, args.data_dir) for split in ("train", "test"))
    model = FashionClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=args.epochs * (len(train) // 128))
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train))
        for i in tqdm(range(len(train) // 128), desc=f"epoch {epoch + 1}/{args.epochs}", leave=False):
            idx = order[i * 128:(i + 1) * 128]
            loss = F.cross_entropy(model(train.images[idx].float() / 255), train.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, test.images, test.labels):.4f}")
    acc = accuracy(model, test.images, test.labels)
    command = "python -m train.classifier " + " ".join(argv if argv is not None else sys.argv[1:])
    record = {"format": FORMAT, "test_accuracy": acc, "command": command.strip(), "seed": args.seed,
              "epochs": args.epochs, "train_seconds": round(time.time() - start, 1), "torch": str(torch.__version__),
              "weights": model.state_dict()}
    buffer = io.BytesIO()
    torch.save(record, buffer)
    atomic_write(args.output, buffer.getvalue())
    print(f"test accuracy {acc:.4f}; wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
