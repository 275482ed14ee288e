"""What every dashboard tab shares: cached models and generations, sizes that fit the model's cost, display.

Streamlit reruns the whole script on every interaction, so everything derived is cached, keyed on
what it depends on: the model file (path and modification time), the latent vectors, the options.
A widget change that does not touch a tab's inputs costs that tab nothing. Requests are generated in
chunks of about a quarter of a second and, where they take longer, shown as they come, with an estimate
when they take over two seconds (ANSWER_SECONDS).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import streamlit as st

from core.formats.metrics_jsonl import MetricsReader
from core.images import gif_bytes, grid, upscale
from inference.runtime import OnnxClassifier, OnnxGenerator, RuntimeErrorForUser

MAX_IMAGES = 256  # per grid: bounds the work of one request
MAX_STEPS = 64  # interpolation frames
MAX_WALK_FRAMES = 192
ROW = 8  # images per row of a default grid, and the largest chunk a request is generated in
# What a default view may cost: a grid larger than this waits for the user to ask. Its first images are on the
# page after about SHOWN_EVERY_S whatever its size.
ANSWER_SECONDS = 2.0
SHOWN_EVERY_S = 0.25  # a request that takes longer shows its images as they come, about this often


class ModelKey(NamedTuple):
    """A model file version: cached results are keyed on it, so a re-exported model is never shown stale."""

    path: str
    mtime: float
    root: str

    @classmethod
    def of(cls, path: Path, root: Path) -> "ModelKey":
        return cls(str(path), path.stat().st_mtime, str(root))


@st.cache_resource(max_entries=8, show_spinner="Loading the ONNX model…")
def load_generator(key: ModelKey) -> OnnxGenerator:
    """One ONNX Runtime session per model file version."""
    return OnnxGenerator(key.path, root=key.root)


@st.cache_resource(max_entries=8, show_spinner=False)
def seconds_per_image(key: ModelKey) -> float:
    """This model's measured cost here, which sizes the default views: one warm image after a one-image warm-up.
    Two images cost a slow model (the frog on an AVX2-only CPU: ~0.12 s each) a quarter of a second before the
    first page. The first, cold image alone would time the session's set-up too; on the first page either is
    inflated by the browser loading beside it, so a default errs on the small side."""
    gen = load_generator(key)
    z = gen.latents(0, 2)
    gen.images(z[:1])
    start = time.perf_counter()
    gen.images(z[1:])
    return max(time.perf_counter() - start, 1e-6)


def chunk_size(key: ModelKey) -> int:
    """Images per chunk of a request (1, 2, 4 or ROW): as many as take about SHOWN_EVERY_S here, so a slow
    model's first images are on the page while the rest are generated."""
    fit = int(SHOWN_EVERY_S / seconds_per_image(key))
    return next((n for n in (ROW, 4, 2) if fit >= n), 1)


def affordable(key: ModelKey, per_view: int = 1, most: int = 64, least: int = ROW) -> int:
    """How many images (a multiple of ROW) a default view can show within ANSWER_SECONDS."""
    fit = int(ANSWER_SECONDS / (seconds_per_image(key) * per_view))
    return int(min(most, max(least, fit // ROW * ROW)))


@st.cache_data(max_entries=256, show_spinner=False)
def _generate(key: ModelKey, z: np.ndarray, classes: np.ndarray | None) -> tuple[np.ndarray, float]:
    gen = load_generator(key)
    images = gen.images(z, classes)
    return images, gen.last_latency_ms


def class_picker(key: ModelKey, label: str, widget: str, mixed: str | None = "each class in turn") -> int | None:
    """For a conditional model, a class to draw (None: `mixed`, each class in turn, where offered); nothing (None)
    for an unconditional one."""
    names = load_generator(key).class_names
    if not names:
        return None
    choice = st.selectbox(label, ([mixed] if mixed else []) + list(names), key=widget)
    return None if choice == mixed else names.index(choice)


def rows_for(key: ModelKey, count: int, index: int | np.ndarray | None) -> np.ndarray | None:
    """The one-hot class rows of `count` images of class `index` (each class in turn when None; a one-hot row
    repeated); None for an unconditional model."""
    gen = load_generator(key)
    if not gen.class_names:
        return None
    if isinstance(index, np.ndarray):
        return np.repeat(index[None].astype(np.float32), count, axis=0)
    return gen.class_rows(count, index)


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


def every_nth(count: int, most: int) -> int:
    """The stride that keeps at most `most` of `count` evenly spaced points (for charts, which cannot show more)."""
    return max(1, -(-count // most))


@st.cache_resource(max_entries=32, show_spinner=False)
def metrics_reader(path: str, root: str) -> MetricsReader:
    """One incremental reader per metrics file: each rerun parses only what training appended since."""
    return MetricsReader(Path(path), Path(root))


@st.cache_data(max_entries=64, show_spinner=False)
def gif(frames: np.ndarray, size: int, duration_ms: int) -> bytes:
    return gif_bytes([upscale(f, size) for f in frames], duration_ms=duration_ms)


def show(image: np.ndarray, caption: str) -> None:
    picture = upscale(image)
    st.image(picture[..., 0] if picture.shape[-1] == 1 else picture, caption=caption)


class GenerationFailed(Exception):
    """Generation failed and the page has said why; the tab stops drawing."""


def generate(key: ModelKey, z: np.ndarray, preview_columns: int | None = None,
             classes: np.ndarray | None = None) -> np.ndarray:
    """G(z) (of `classes`, one-hot rows, for a conditional model: each class in turn by default) as uint8 images,
    cached per chunk; a request over ANSWER_SECONDS shows an estimate, and one over SHOWN_EVERY_S, with
    `preview_columns`, its images as they come. Any failure is said on the page (GenerationFailed)."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    if classes is None:
        classes = rows_for(key, len(z), None)
    size = chunk_size(key)
    chunks = [slice(i, i + size) for i in range(0, len(z), size)]
    estimate = seconds_per_image(key) * len(z)
    placeholder = st.empty() if preview_columns and len(chunks) > 1 and estimate > SHOWN_EVERY_S else None
    done: list[np.ndarray] = []
    try:
        with st.spinner(f"Generating {len(z)} images (about {estimate:.0f} s here)…" if estimate > ANSWER_SECONDS
                        else "Generating…"):
            for chunk in chunks:
                images, latency = _generate(key, z[chunk], None if classes is None else classes[chunk])
                done.append(images)
                st.session_state["latency_ms"] = latency
                if placeholder is not None and len(done) < len(chunks):
                    placeholder.image(upscale(grid(np.concatenate(done), ncols=preview_columns)),
                                      caption=f"{sum(map(len, done))} of {len(z)} images…")
    except (RuntimeErrorForUser, ValueError, MemoryError) as exc:
        st.error(f"Could not generate: {exc}")
        raise GenerationFailed() from None
    if placeholder is not None:
        placeholder.empty()
    return np.concatenate(done)
