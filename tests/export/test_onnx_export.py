"""export_generator and parity: every preset's G exports with a dynamic batch and matches PyTorch;
the graph rewrites (fold, sub-pixel) keep the outputs."""
import copy

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from core.spec import PRESETS, ModelSpec
from inference import runtime
from export.onnx_export import ExportOptions, export_generator, parity
from gan.models import build


def spec_of_preset(name):
    return ModelSpec.of_preset(name)


def randomise_batchnorm(module):
    """Give BN layers running statistics far from a fresh batch's, so train and eval modes differ."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return module


@pytest.fixture(scope="module")
def exported():
    """Each preset's G (with non-trivial BN statistics) and its fp32 ONNX bytes."""
    torch.manual_seed(0)
    out = {}
    for name in PRESETS:
        generator = randomise_batchnorm(build(name)[0]).eval()
        out[name] = (generator, export_generator(generator, spec_of_preset(name), {"run": "t"}, ExportOptions()))
    return out


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_onnx_runtime_matches_pytorch_on_cpu(exported, name):
    generator, model_bytes = exported[name]
    proof = parity(model_bytes, generator, spec_of_preset(name), ExportOptions(), batches=(1, 7, 64))
    assert set(proof.errors) == {1, 7, 64} and proof.provider == "CPUExecutionProvider"
    assert proof.worst < 1e-4, proof.errors


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_onnx_runtime_matches_pytorch_on_cuda(exported, name):
    if not runtime.cuda_usable():
        pytest.skip("no CUDA GPU/driver on this machine, so the CUDA execution provider cannot run")
    generator, model_bytes = exported[name]
    proof = parity(model_bytes, generator, spec_of_preset(name), ExportOptions(), runtime.pick_providers("cuda"))
    assert proof.provider == "CUDAExecutionProvider" and proof.worst < 1e-4, proof.errors


def test_export_uses_eval_mode_batchnorm_and_dropout(exported):
    generator, model_bytes = exported["dcgan"]
    z = runtime.latents(3, 16, 100)
    session_out = runtime_session(model_bytes).run(None, {"z": z})[0]
    with torch.no_grad():
        eval_out = generator.eval()(torch.from_numpy(z)).numpy()
        train_out = copy.deepcopy(generator).train()(torch.from_numpy(z)).numpy()  # a copy: BN stats would move
    assert np.abs(session_out - eval_out).max() < 1e-4
    assert np.abs(session_out - train_out).max() > 1e-2, "BN statistics should matter here"
    with_dropout = nn.Sequential(generator, nn.Dropout(0.5)).train()  # export must switch it off
    dropout_bytes = export_generator(with_dropout, spec_of_preset("dcgan"), {}, ExportOptions())
    out = runtime_session(dropout_bytes).run(None, {"z": z})[0]
    assert np.abs(out - eval_out).max() < 1e-4


def runtime_session(model_bytes):
    import onnxruntime as ort
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def test_batch_axis_is_dynamic_and_metadata_complete(exported):
    _, model_bytes = exported["mlp"]
    model = onnx.load_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 30
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["preset"] == "mlp" and meta["latent_dim"] == "30" and meta["image_shape"] == "[1, 28, 28]"
    session = runtime_session(model_bytes)
    for batch in (1, 3, 130):
        assert session.run(None, {"z": runtime.latents(0, batch, 30)})[0].shape == (batch, 1, 28, 28)


@pytest.mark.parametrize("name", ["dcgan", "frog"])
def test_subpixel_rewrite_removes_convtranspose_and_keeps_outputs(exported, name):
    from export.subpixel import with_subpixel_deconvs

    generator, model_bytes = exported[name]
    ops = {node.op_type for node in onnx.load_from_string(model_bytes).graph.node}
    assert "ConvTranspose" not in ops and "DepthToSpace" in ops
    z = torch.randn(5, PRESETS[name].latent_dim)
    with torch.no_grad():
        assert torch.allclose(with_subpixel_deconvs(generator)(z), generator(z), atol=1e-5)
    plain = export_generator(generator, spec_of_preset(name), {}, ExportOptions(subpixel=False))
    assert "ConvTranspose" in {node.op_type for node in onnx.load_from_string(plain).graph.node}


def test_fold_turns_dcgan_leading_layers_into_one_matrix(exported):
    from export.fold import fold_affine_prefix

    generator, model_bytes = exported["dcgan"]
    folded, names = fold_affine_prefix(generator, 100)
    assert names == ["Linear", "Reshape", "BatchNorm2d", "ConvTranspose2d"]
    assert isinstance(folded[0], nn.Linear) and folded[0].weight.shape == (64 * 14 * 14, 100)
    z = torch.randn(9, 100)
    with torch.no_grad():
        assert torch.allclose(folded(z), generator(z), atol=1e-5)
    model = onnx.load_from_string(model_bytes)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("BatchNormalization") == 1 and ops.count("Gemm") == 1  # only the BN after SELU is left
    assert runtime.read_metadata(model_bytes, "dcgan")["folded_layers"] == "Linear+Reshape+BatchNorm2d+ConvTranspose2d"
    literal = export_generator(generator, spec_of_preset("dcgan"), {}, ExportOptions(fold=False))
    assert [node.op_type for node in onnx.load_from_string(literal).graph.node].count("BatchNormalization") == 2


@pytest.mark.parametrize("name", ["mlp", "frog"])
def test_fold_leaves_generators_that_start_with_a_nonlinearity(exported, name):
    from export.fold import fold_affine_prefix

    generator, model_bytes = exported[name]
    assert fold_affine_prefix(generator, PRESETS[name].latent_dim) == (generator, [])
    assert runtime.read_metadata(model_bytes, name)["folded_layers"] == "none"
