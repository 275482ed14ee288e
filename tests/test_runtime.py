"""export.runtime: loading exported models (and refusing foreign or hostile ones), generating from seeds."""
import pytest
import torch

from export import runtime
from train.models import build


def test_onnx_without_metadata_is_refused(tmp_path):
    generator = build("mlp")[0].eval()
    path = tmp_path / "plain.onnx"
    torch.onnx.export(generator, (torch.randn(2, 30),), str(path), dynamo=True, verbose=False)
    with pytest.raises(runtime.RuntimeErrorForUser, match="no GAN workbench metadata"):
        runtime.OnnxGenerator(path)
    (tmp_path / "corrupt.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(runtime.RuntimeErrorForUser, match="not a readable ONNX model"):
        runtime.OnnxGenerator(tmp_path / "corrupt.onnx")


