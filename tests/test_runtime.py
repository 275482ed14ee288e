"""export.runtime: loading exported models (and refusing foreign or hostile ones), generating from seeds."""
import pytest
import torch

from export import runtime
from tests import synthetic
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




def test_a_cuda_provider_that_fails_to_start_is_reported_as_the_cpu_it_fell_back_to(own_run, monkeypatch):
    """Simulated user GPU whose CUDA libraries are broken: ORT lists CUDA, fails to create it, runs on CPU."""
    from export.to_onnx import main as export_main

    assert export_main([str(own_run)]) == 0
    monkeypatch.setattr(runtime, "cuda_usable", lambda: True)  # "a GPU is here"; its provider cannot load
    gen = runtime.OnnxGenerator(own_run / "generator.onnx")
    if gen.provider == "CUDAExecutionProvider":
        pytest.skip("this machine really runs ONNX Runtime's CUDA provider")
    assert gen.provider == "CPUExecutionProvider" and gen.fell_back_from == "CUDAExecutionProvider"
    assert gen.images(gen.latents(0, 2)).shape == (2, 28, 28, 1)
    assert runtime.OnnxGenerator(own_run / "generator.onnx", device="cpu").fell_back_from is None


def test_a_small_honest_model_runs(tmp_path):
    (tmp_path / "ok.onnx").write_bytes(synthetic.onnx_generator())
    gen = runtime.OnnxGenerator(tmp_path / "ok.onnx", device="cpu")
    assert gen.images(gen.latents(0, 3)).shape == (3, 2, 2, 1)


@pytest.mark.parametrize("meta, message", [
    ({"latent_dim": "5"}, "metadata says latent size 5"),
    ({"image_shape": "[3, 2, 2]"}, "metadata says images of [3, 2, 2]"),
    ({"image_shape": "[1, -2, 2]"}, "impossible image_shape"),
    ({"image_shape": "[1, 100000, 100000]"}, "impossible image_shape"),
    ({"pixel_range": "[1.0, -1.0]"}, "impossible pixel_range"),
    ({"pixel_range": "[0, NaN]"}, "impossible pixel_range"),
    ({"latent_dim": "-4"}, "impossible latent_dim"),
    ({"output": "jpeg"}, "unknown output kind"),
])
def test_metadata_that_lies_about_the_graph_is_refused(tmp_path, meta, message):
    (tmp_path / "liar.onnx").write_bytes(synthetic.onnx_generator(meta=meta))
    with pytest.raises(runtime.RuntimeErrorForUser, match=message.replace("[", r"\[").replace("]", r"\]")):
        runtime.OnnxGenerator(tmp_path / "liar.onnx", device="cpu")


def test_external_data_is_refused_before_onnx_runtime_can_read_it(tmp_path, monkeypatch):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00\x00\x80\x3f" * 16)  # what ORT would read relative to the working directory
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.onnx").write_bytes(synthetic.onnx_generator(external="secret.bin"))
    with pytest.raises(runtime.RuntimeErrorForUser, match="external data"):
        runtime.OnnxGenerator(tmp_path / "m.onnx", device="cpu")


def test_one_request_is_bounded_in_bytes_and_nan_is_a_message(tmp_path):
    import numpy as np

    (tmp_path / "big.onnx").write_bytes(synthetic.onnx_generator(latent=2, shape=(3, 512, 512)))
    gen = runtime.OnnxGenerator(tmp_path / "big.onnx", device="cpu")
    assert gen.max_batch == runtime.MAX_REQUEST_BYTES // (4 * 3 * 512 * 512)
    with pytest.raises(runtime.RuntimeErrorForUser, match="over this model's limit"):
        gen.images(np.zeros((gen.max_batch + 1, 2), np.float32))
    (tmp_path / "nan.onnx").write_bytes(synthetic.onnx_generator(weight=np.full((4, 4), np.nan, np.float32)))
    with pytest.raises(runtime.RuntimeErrorForUser, match="NaN"):
        runtime.OnnxGenerator(tmp_path / "nan.onnx", device="cpu").images(np.ones((1, 4), np.float32))


def test_files_over_the_size_cap_are_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "MAX_ONNX_BYTES", 100)
    (tmp_path / "m.onnx").write_bytes(synthetic.onnx_generator())
    with pytest.raises(runtime.RuntimeErrorForUser, match="over the 100-byte limit"):
        runtime.OnnxGenerator(tmp_path / "m.onnx", device="cpu")
