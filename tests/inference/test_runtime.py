"""inference.runtime: loading exported models (and refusing foreign or hostile ones), generating from seeds."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inference import runtime
from tests import synthetic


def test_onnx_without_metadata_is_refused(tmp_path):
    model = onnx.load_from_string(synthetic.onnx_generator())
    del model.metadata_props[:]
    (tmp_path / "plain.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(runtime.RuntimeErrorForUser, match="no GAN workbench metadata"):
        runtime.OnnxGenerator(tmp_path / "plain.onnx")
    (tmp_path / "corrupt.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(runtime.RuntimeErrorForUser, match="not a readable ONNX model"):
        runtime.OnnxGenerator(tmp_path / "corrupt.onnx")


def test_a_cuda_provider_that_fails_to_start_is_reported_as_the_cpu_it_fell_back_to(tmp_path, monkeypatch):
    """Simulated user GPU whose CUDA libraries are broken: ORT lists CUDA, fails to create it, runs on CPU."""
    run = synthetic.run_folder(tmp_path)
    monkeypatch.setattr(runtime, "cuda_usable", lambda: True)  # "a GPU is here"; its provider cannot load
    gen = runtime.OnnxGenerator(run / "generator.onnx")
    if gen.provider == "CUDAExecutionProvider":
        pytest.skip("this machine really runs ONNX Runtime's CUDA provider")
    assert gen.provider == "CPUExecutionProvider" and gen.fell_back_from == "CUDAExecutionProvider"
    assert gen.images(gen.latents(0, 2)).shape == (2, 28, 28, 1)
    assert runtime.OnnxGenerator(run / "generator.onnx", device="cpu").fell_back_from is None


def test_the_sessions_sleep_instead_of_spinning_and_share_one_capped_arena():
    """What docs/performance.md says the runtime does beside a training run."""
    options = runtime.session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.use_env_allocators") == "1"
    assert runtime.MAX_ARENA_BYTES == 2 << 30


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


def test_external_initializers_are_refused_before_onnx_runtime_can_read_them(tmp_path, monkeypatch):
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


def secret_file(tmp_path):
    secret = tmp_path / "README.md"
    secret.write_bytes(b"\x00\x00\x80\x3f" * 16)  # what ORT would read relative to the working directory
    return secret


def external(tensor, location="README.md"):
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    return tensor


def with_function_constant(latent=4, shape=(1, 2, 2)):
    """images = reshape(z @ f()), where local function f returns a Constant whose data is external."""
    values = int(np.prod(shape))
    constant = external(numpy_helper.from_array(np.ones((latent, values), np.float32), "w"))
    function = helper.make_function("local", "weights", [], ["w"],
                                    [helper.make_node("Constant", [], ["w"], value=constant)],
                                    [helper.make_opsetid("", 18)])
    target = numpy_helper.from_array(np.array([-1, *shape], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("weights", [], ["W"], domain="local"),
                               helper.make_node("MatMul", ["z", "W"], ["flat"]),
                               helper.make_node("Reshape", ["flat", "shape"], ["images"])], "g",
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])],
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", *shape])], [target])
    return graph, [function]


def hostile_models():
    """A model with an external tensor in each place a tensor can live."""
    base = onnx.load_from_string(synthetic.onnx_generator())
    graph, functions = with_function_constant()
    yield "local function Constant", graph, functions
    constant = helper.make_node("Constant", [], ["W2"], value=external(numpy_helper.from_array(np.ones(1, np.float32))))
    g = onnx.GraphProto()
    g.CopyFrom(base.graph)
    g.node.insert(0, constant)
    yield "Constant attribute", g, []
    g = onnx.GraphProto()
    g.CopyFrom(base.graph)
    sparse = helper.make_sparse_tensor(external(numpy_helper.from_array(np.ones(1, np.float32), "v")),
                                       numpy_helper.from_array(np.zeros(1, np.int64), "i"), [4])
    g.sparse_initializer.append(sparse)
    yield "sparse initializer", g, []
    branch = helper.make_graph([helper.make_node("Constant", [], ["c"], value=external(
        numpy_helper.from_array(np.ones(1, np.float32))))], "b", [], [helper.make_tensor_value_info("c", 1, [1])])
    g = onnx.GraphProto()
    g.CopyFrom(base.graph)
    g.node.insert(0, helper.make_node("If", ["cond"], ["c"], then_branch=branch, else_branch=branch))
    g.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
    yield "If subgraph", g, []


@pytest.mark.parametrize("where, graph, functions", list(hostile_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_external_data_is_refused_wherever_a_tensor_lives(tmp_path, monkeypatch, where, graph, functions):
    secret_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("local", 1)],
                              ir_version=9, functions=functions)
    for key, value in {"preset": "dcgan", "latent_dim": "4", "image_shape": "[1, 2, 2]",
                       "pixel_range": "[-1.0, 1.0]"}.items():
        model.metadata_props.add(key=key, value=value)
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(runtime.RuntimeErrorForUser, match="external data"):
        runtime.OnnxGenerator(tmp_path / "m.onnx", device="cpu")


def test_a_graph_whose_memory_does_not_follow_the_request_is_refused_at_load(tmp_path):
    """A 786 MB output hidden behind a symbolic signature, and an output whose batch is fixed."""
    for shape_value, message in (([250, 3, 512, 512], "always returns 250 images"),
                                 ([2, 1, 2, 2], "always returns 2 images")):
        shape = numpy_helper.from_array(np.array(shape_value, np.int64), "shape")
        one = numpy_helper.from_array(np.ones((1,), np.float32), "one")
        graph = helper.make_graph([helper.make_node("Expand", ["one", "shape"], ["images"])], "g",
                                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
                                  [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", *shape_value[1:]])],
                                  [shape, one])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
        for key, value in {"preset": "dcgan", "latent_dim": "4", "image_shape": json_shape(shape_value[1:]),
                           "pixel_range": "[-1.0, 1.0]"}.items():
            model.metadata_props.add(key=key, value=value)
        (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
        with pytest.raises(runtime.RuntimeErrorForUser, match=message):
            runtime.OnnxGenerator(tmp_path / "m.onnx", device="cpu")


def json_shape(dims) -> str:
    return "[" + ", ".join(map(str, dims)) + "]"


def test_a_float_graph_whose_metadata_says_uint8_is_refused(tmp_path):
    (tmp_path / "m.onnx").write_bytes(synthetic.onnx_generator(meta={"output": "uint8"}))
    with pytest.raises(runtime.RuntimeErrorForUser, match="metadata says its output is uint8, but the graph outputs "
                                                          "float"):
        runtime.OnnxGenerator(tmp_path / "m.onnx", device="cpu")


def test_a_conditional_model_draws_the_class_it_is_asked_for(tmp_path):
    path = tmp_path / "g.onnx"
    path.write_bytes(synthetic.onnx_generator(latent=4, shape=(1, 2, 2), classes=3,
                                              weight=np.arange(28, dtype=np.float32).reshape(7, 4)))
    gen = runtime.OnnxGenerator(path)
    assert gen.class_names == synthetic.CLASS_NAMES[:3] and gen.class_index("trouser") == 1
    z = np.zeros((3, 4), np.float32)
    # with z = 0 the image is class row @ W: each class its own picture, the default each class in turn
    assert np.array_equal(gen.run(z, 2)[0].ravel(), np.arange(24, 28))
    assert np.array_equal(gen.run(z), gen.run(z, [0, 1, 2]))
    assert not np.array_equal(gen.run(z, 0), gen.run(z, 1))
    halfway = gen.run(z[:1], np.array([[0.5, 0.5, 0.0]], np.float32))  # rows as given: between two classes
    assert np.allclose(halfway, (gen.run(z[:1], 0) + gen.run(z[:1], 1)) / 2)


@pytest.mark.parametrize("call, message", [
    (lambda gen, z: gen.run(z, 3), "class index [3] is not one of this model's 3 classes (0-2)"),
    (lambda gen, z: gen.run(z, [0, -1]), "class index [-1] is not one of"),
    (lambda gen, z: gen.run(z, 0.5), "class indices must be integers"),
    (lambda gen, z: gen.class_index("Sneaker"), "no class 'Sneaker' in g.onnx; it knows: T-shirt/top, Trouser, Pullover"),
])
def test_a_wrong_class_is_one_sentence(tmp_path, call, message):
    path = tmp_path / "g.onnx"
    path.write_bytes(synthetic.onnx_generator(latent=4, shape=(1, 2, 2), classes=3))
    with pytest.raises(runtime.RuntimeErrorForUser) as refused:
        call(runtime.OnnxGenerator(path), np.zeros((2, 4), np.float32))
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_class_metadata_that_disagrees_with_the_graph_is_refused(tmp_path):
    path = tmp_path / "g.onnx"
    path.write_bytes(synthetic.onnx_generator(latent=4, shape=(1, 2, 2), classes=3, meta={"conditional": "false"}))
    with pytest.raises(runtime.RuntimeErrorForUser, match="must have one input"):
        runtime.OnnxGenerator(path)
    path.write_bytes(synthetic.onnx_generator(latent=4, shape=(1, 2, 2), classes=3,
                                              meta={"class_names": "a,b,c,d"}))
    with pytest.raises(runtime.RuntimeErrorForUser, match="its metadata names 4 classes"):
        runtime.OnnxGenerator(path)
    unconditional = tmp_path / "u.onnx"
    unconditional.write_bytes(synthetic.onnx_generator(latent=4, shape=(1, 2, 2)))
    with pytest.raises(runtime.RuntimeErrorForUser, match="is not class-conditional"):
        runtime.OnnxGenerator(unconditional).class_index("Trouser")
