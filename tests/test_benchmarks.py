"""The benchmarks' own guards: the eager reference really is PyTorch's plain layers, the parity
check holds, and both scripts run end to end (tiny sizes; their timings are not asserted)."""

import torch
from torch import nn

from benchmarks import inference, train_speed
from train.dropout import Dropout
from core.spec import PRESETS
from train.models import build


def test_eager_reference_uses_torch_dropout():
    _, discriminator = build("dcgan")
    reference = train_speed.with_torch_dropout(discriminator)
    kinds = [type(m) for m in reference if isinstance(m, nn.Dropout)]
    assert kinds == [nn.Dropout, nn.Dropout] and not any(isinstance(m, Dropout) for m in reference)


def test_default_path_computes_the_eager_ports_losses():
    opts = train_speed.our_options(PRESETS["dcgan"])
    assert train_speed.check_parity("dcgan", torch.device("cpu"), opts, steps=3) < train_speed.PARITY_TOLERANCE


def test_train_speed_runs_and_prints_a_row_per_variant(capsys):
    assert train_speed.main(["--presets", "mlp", "--batches", "8", "--seconds", "0.2", "--options", "fp32,bf16",
                             "--device", "cpu"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("mlp")]
    assert len(rows) == 2 and all("x |" in row for row in rows)


def test_inference_benchmark_runs(capsys):
    assert inference.main(["--batches", "1,4", "--repeats", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2 and all(row.rstrip().endswith("x") for row in rows)
