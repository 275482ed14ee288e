"""The feature classifiers as ONNX models, so the torch-free dashboard can label generated images.

    python -m export.classifier_onnx            # writes inference/assets/<kind>_classifier.onnx for each kind

Each file outputs the logits and the features of images in [0, 1], carries the classifier's kind,
class names, test accuracy and the SHA-256 of the weights it came from, and is checked against
PyTorch before it is written, like every export.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from torch import nn

from core.errors import ArgumentParser, UserError, cli_entry, run_main, summary
from core.files import atomic_write
from evaluation import classifier

from inference.runtime import CLASSIFIER_ASSETS

from .onnx_export import quiet_exporter

ASSETS = CLASSIFIER_ASSETS  # inference/ runs them; this module only makes them
TOLERANCE = 1e-3


class _Both(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        features = self.model.features(images)
        return self.model.classify(features), features


def path_for(kind: str) -> Path:
    return ASSETS / f"{kind}_classifier.onnx"


def store_exact_fp16(graph: onnx.GraphProto) -> None:
    """Float initializers whose values are all exact in fp16 (the committed weights are: see
    evaluation.classifier.stored) are stored as fp16 and cast back to fp32 at the graph's start: half the
    file, the same fp32 arithmetic, bit-identical values. Others (epsilons, shapes) stay as they are."""
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        values = onnx.numpy_helper.to_array(init)
        if values.size < 16 or not np.array_equal(values.astype(np.float16).astype(np.float32), values):
            continue
        name = init.name
        init.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float16), f"{name}__fp16"))
        casts.append(onnx.helper.make_node("Cast", [f"{name}__fp16"], [name], to=onnx.TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def export(kind: classifier.Kind) -> bytes:
    model, record = classifier.load(kind.weights)
    wrapper = _Both(model).eval()
    example = torch.rand(2, *kind.image_shape)
    with quiet_exporter():
        program = torch.onnx.export(wrapper, (example,), dynamo=True, input_names=["images"],
                                    output_names=["logits", "features"], opset_version=18, optimize=False,
                                    dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},), verbose=False)
    proto = program.model_proto
    info = {"kind": kind.name, "class_names": json.dumps(list(kind.class_names)),
            "image_shape": json.dumps(list(kind.image_shape)), "test_accuracy": f"{record['test_accuracy']:.4f}",
            "weights_sha256": hashlib.sha256(kind.weights.read_bytes()).hexdigest()}
    for key, value in info.items():
        proto.metadata_props.add(key=key, value=value)
    store_exact_fp16(proto.graph)
    onnx.checker.check_model(proto, full_check=True)
    raw = proto.SerializeToString()
    import onnxruntime as ort

    x = torch.rand(7, *kind.image_shape)
    ours = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})
    with torch.no_grad():
        ref = [t.numpy() for t in wrapper(x)]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ours, ref))
    if worst > TOLERANCE:
        raise UserError(f"the {kind.name} classifier's ONNX output differs from PyTorch by {worst:.3g}; nothing written")
    return raw


@cli_entry
def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m export.classifier_onnx", description=summary(__doc__))
    parser.add_argument("--kind", choices=tuple(classifier.KINDS), help="only this classifier (default: every one "
                        "whose weights exist)")
    args = parser.parse_args(argv)
    kinds = [classifier.KINDS[args.kind]] if args.kind else [k for k in classifier.KINDS.values() if k.weights.is_file()]
    for kind in kinds:
        raw = export(kind)
        atomic_write(path_for(kind.name), raw)
        print(f"wrote {path_for(kind.name)} ({len(raw) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    run_main(main)
