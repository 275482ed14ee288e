"""What every dashboard tab shares: the cached models, generation with errors shown on the page, display."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.images import upscale
from export.runtime import OnnxClassifier, OnnxGenerator, RuntimeErrorForUser

MAX_IMAGES = 256  # per grid: bounds the work of one request
MAX_STEPS = 64  # interpolation frames
MAX_WALK_FRAMES = 192


@st.cache_resource(max_entries=8, show_spinner="Loading the ONNX model…")
def load_generator(path: str, mtime: float, root: str) -> OnnxGenerator:
    """One ONNX Runtime session per model file version (mtime is part of the key)."""
    return OnnxGenerator(path, root=root)


@st.cache_resource(max_entries=4, show_spinner=False)
def _classifier(image_shape: tuple[int, ...]) -> OnnxClassifier | None:
    return OnnxClassifier.for_shape(image_shape)


def classifier_for(gen: OnnxGenerator) -> OnnxClassifier | None:
    """The project's classifier, if it knows this model's images (same shape, and a dataset it was trained on)."""
    found = _classifier(tuple(gen.info.spec.image_shape))
    if found is None:
        return None
    names = {n.lower() for n in found.class_names}
    trained_on = gen.info.spec.class_names
    return found if not trained_on or all(n.lower() in names for n in trained_on) else None


def show(image: np.ndarray, caption: str) -> None:
    picture = upscale(image)
    st.image(picture[..., 0] if picture.shape[-1] == 1 else picture, caption=caption)


class GenerationFailed(Exception):
    """Generation failed and the page has said why; the tab stops drawing."""


def generate(gen: OnnxGenerator, z: np.ndarray) -> np.ndarray:
    with st.spinner("Generating…"):
        try:
            images = gen.images(z)
        except (RuntimeErrorForUser, ValueError, MemoryError) as exc:
            st.error(f"Could not generate: {exc}")
            raise GenerationFailed() from None
    st.session_state["latency_ms"] = gen.last_latency_ms
    return images
