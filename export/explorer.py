"""Glue between the exporter and export/explore.py: the labeller and the test images a run's data offers."""
from __future__ import annotations


import numpy as np
import torch
from torch import nn

from core.errors import UserError
from core.formats import config_json, explore_npz
from core.spec import ModelSpec
from evaluation import classifier
from gan import data as datasets

from . import explore

TEST_IMAGES = 64  # real test images stored for the dashboard's projection picker


class Explorer:
    """Computes each generator's explore file, with the classifier and test images found once per export."""

    def __init__(self, state: dict, spec: ModelSpec, images: int | None = None):
        self.spec, self.images = spec, images
        self.labeller, self.class_names = self._labeller(spec)
        self.test_images, self.note = self._test_images(state, spec)

    @staticmethod
    def _labeller(spec: ModelSpec):
        kind = classifier.kind_for(spec.image_shape)
        if kind is None or not kind.weights.is_file():
            return None, ()
        known = {n.lower() for n in kind.class_names}
        if spec.class_names and not all(n.lower() in known for n in spec.class_names):
            return None, ()  # a folder of other things: the classifier's classes would mean nothing here
        model, _ = classifier.load(kind.weights)

        @torch.no_grad()
        def probabilities(images: torch.Tensor) -> torch.Tensor:
            return torch.cat([model(part).softmax(1) for part in images.split(500)])

        return probabilities, kind.class_names

    @staticmethod
    def _test_images(state: dict, spec: ModelSpec) -> tuple[np.ndarray | None, str]:
        source = config_json.data_source(state["config"])
        try:
            test = datasets.load(source.dataset, "test", source.data_dir, source.classes, spec.image_shape)
        except UserError as exc:
            return None, f"no real test images for projection ({str(exc)[:80]}...)"
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:TEST_IMAGES]
        return test.images[pick].permute(0, 2, 3, 1).numpy(), f"{len(pick)} test images"

    def run(self, generator: nn.Module) -> tuple[bytes, str, str]:
        """The explore file's bytes, its SHA-256, and a one-line summary for the export log."""
        data = explore.compute(generator, self.spec, self.labeller, self.class_names, self.test_images, self.images)
        raw, digest = explore_npz.to_bytes(data)
        kinds = data.kinds
        summary = (f"latent directions: {kinds.count('sefa')} SeFa, {kinds.count('ganspace')} GANSpace, "
                   f"{kinds.count('class')} class; {self.note}")
        return raw, digest, summary
