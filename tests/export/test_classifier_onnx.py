"""export/classifier_onnx.py: fp16-exact weights are stored as fp16 losslessly; the committed files match PyTorch."""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from export.classifier_onnx import store_exact_fp16


def test_exact_weights_are_stored_as_fp16_and_give_identical_outputs():
    exact = np.arange(32, dtype=np.float32).reshape(4, 8) / 8  # representable in fp16
    inexact = np.full((8, 4), 0.1, dtype=np.float32)           # 0.1 is not
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "a"], ["h"]), helper.make_node("MatMul", ["h", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(exact, "a"), numpy_helper.from_array(inexact, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    store_exact_fp16(model.graph)
    onnx.checker.check_model(model, full_check=True)
    kinds = {init.name: init.data_type for init in model.graph.initializer}
    assert kinds == {"a__fp16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    assert model.graph.node[0].op_type == "Cast" and model.graph.node[0].output == ["a"]
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert np.array_equal(before, after)
