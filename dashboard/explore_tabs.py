"""The tabs that explain what G learned: Directions, Project (real images into z), Memorisation."""
from __future__ import annotations

import io

import numpy as np
import streamlit as st

from core.files import UnsafeFile, read_bounded
from core.images import BadImage, grid, numbered_grid
from core.runs import Run
from export.latent_space import ExploreData, load_explore, project, read_target, to_target
from export.runtime import OnnxGenerator

from .ui import generate, show

NEAREST_FILE = "nearest.npz"  # written by python -m train.evaluate
MAX_NEAREST_BYTES = 64 << 20
STRENGTHS = np.linspace(-4, 4, 9, dtype=np.float32)
PROJECT_SECONDS = 3.0


@st.cache_resource(max_entries=8, show_spinner=False)
def explore_data(_gen: OnnxGenerator, path: str, mtime: float, root: str) -> tuple[ExploreData | None, str | None]:
    return load_explore(_gen, root)


def keep(label: str, z: np.ndarray) -> None:
    st.session_state.setdefault("kept", []).append({"label": label, "z": z.astype(np.float32)})
    st.toast(f"kept {label}: it is now offered in Interpolate and as a base here")


def base_latent(gen: OnnxGenerator, key: str) -> tuple[np.ndarray, str]:
    kept = st.session_state.get("kept", [])
    source = st.radio("Start from", ["a seed"] + (["a kept image"] if kept else []), horizontal=True, key=f"{key}_src")
    if source == "a kept image":
        labels = [k["label"] for k in kept]
        label = st.selectbox("Kept image", labels, key=f"{key}_kept")
        return kept[labels.index(label)]["z"], label
    seed = int(st.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed"))
    return gen.latents(seed, 1)[0], f"seed {seed}"


def directions_tab(gen: OnnxGenerator, run: Run) -> None:
    data, problem = explore_data(gen, str(gen.path), gen.path.stat().st_mtime, str(run.root))
    if data is None:
        st.info(problem)
        return
    if not len(data.names):
        st.info("This model's explore data holds no directions.")
        return
    kinds = {"sefa": "SeFa (closed form, from G's first affine map)", "ganspace": "GANSpace (PCA of G's first layer)",
             "class": "class direction (the project's classifier)"}
    st.caption("Each direction is a unit vector in z. Its effect was measured at export time: moving 256 latents "
               "from −3 to +3 along it, how the classifier's class shares and the pixels changed.")
    z, label = base_latent(gen, "dir")
    default = [n for n in data.names if n.startswith("towards")][:2] + [n for n in data.names if n.startswith(("sefa", "gan"))][:1]
    chosen = st.multiselect("Directions to combine", data.names, default or data.names[:3], key="dir_chosen",
                            format_func=lambda n: f"{n} — {data.effects[data.index(n)]}")
    total = z.copy()
    columns = st.columns(max(1, min(4, len(chosen))))
    for i, name in enumerate(chosen):
        strength = columns[i % len(columns)].slider(name, -4.0, 4.0, 0.0, 0.25, key=f"dir_s_{name}",
                                                    help=f"{kinds[data.kinds[data.index(name)]]}; "
                                                         f"{data.effects[data.index(name)]}")
        total = total + strength * data.vectors[data.index(name)]
    images = generate(gen, np.stack([z, total]))
    show(grid(images, ncols=2), f"{label}, then moved along the chosen directions")
    if st.button("Keep the moved image", key="dir_keep"):
        keep(f"{label} moved", total)
    st.subheader("Direction × strength")
    one = st.selectbox("Direction", data.names, data.index(chosen[0]) if chosen else 0, key="dir_sweep",
                       format_func=lambda n: f"{n} — {data.effects[data.index(n)]}")
    rows = int(st.slider("Rows (seeds 0, 1, …; the first row is the base above)", 1, 8, 4, key="dir_rows"))
    bases = np.concatenate([z[None], gen.latents(0, rows - 1)]) if rows > 1 else z[None]
    v = data.vectors[data.index(one)]
    sweep = generate(gen, (bases[:, None, :] + STRENGTHS[None, :, None] * v[None, None, :]).reshape(-1, len(z)))
    show(grid(sweep, ncols=len(STRENGTHS)), f"{one}: strengths {STRENGTHS[0]:g} … +{STRENGTHS[-1]:g} left to right "
                                          f"({data.effects[data.index(one)]})")


def project_tab(gen: OnnxGenerator, run: Run) -> None:
    st.caption(f"Find the latent whose image is nearest a real picture, with ONNX Runtime alone (no gradients: a "
               f"random pool, then an evolution strategy, for {PROJECT_SECONDS:g} s). Distance: mean squared pixel "
               "difference on a 0-1 scale.")
    data, problem = explore_data(gen, str(gen.path), gen.path.stat().st_mtime, str(run.root))
    tests = data.test_images if data is not None else np.zeros((0,))
    options = ["upload a PNG or JPEG"] + (["a test image of this run's data"] if len(tests) else [])
    source = st.radio("Target", options, horizontal=True, key="proj_src")
    target, name = None, None
    if source == "upload a PNG or JPEG":
        upload = st.file_uploader("Image", type=["png", "jpg", "jpeg"], key="proj_upload")
        if upload is not None:
            try:
                target, name = read_target(upload.getvalue(), gen), upload.name
            except BadImage as exc:
                st.error(f"{upload.name}: {exc}")
        if problem and not len(tests):
            st.caption(problem)
    else:
        st.image(numbered_grid(tests, ncols=16), caption="test images, numbered")
        index = int(st.number_input("Test image", 0, len(tests) - 1, 0, key="proj_index"))
        target, name = to_target(tests[index], gen), f"test image {index}"
    if target is None:
        return
    if st.button("Project", type="primary", key="proj_go"):
        with st.spinner(f"Searching for {PROJECT_SECONDS:g} s…"):
            found = project(gen, target, seconds=PROJECT_SECONDS)
        st.session_state["projection"] = {"name": name, "z": found.z, "image": found.image, "distance": found.distance,
                                          "evaluations": found.evaluations, "seconds": found.seconds,
                                          "target": target}
    result = st.session_state.get("projection")
    if result is None or result["name"] != name:
        return
    target_u8 = np.clip(np.rint(result["target"] * 255), 0, 255).astype(np.uint8)
    show(grid(np.stack([target_u8, result["image"]]), ncols=2), f"{name} (left) and G's nearest image (right)")
    st.write(f"Distance **{result['distance']:.4f}** after {result['evaluations']:,} images in "
             f"{result['seconds']:.1f} s.")
    if st.button("Keep the projection", key="proj_keep"):
        keep(f"projected {name}", result["z"])


def memorisation_tab(run: Run, gen_kind: str) -> None:
    path = run.path / NEAREST_FILE
    if not path.exists():
        st.info(f"Measure it with: python -m train.evaluate {run.path} (writes {NEAREST_FILE} and eval.json)")
        return
    try:
        with np.load(io.BytesIO(read_bounded(path, MAX_NEAREST_BYTES, run.root)), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (UnsafeFile, ValueError, OSError, KeyError) as exc:
        st.warning(f"{NEAREST_FILE} is unreadable ({str(exc)[:120]})")
        return
    kinds = sorted({k.split("/")[0] for k in arrays})
    kind = gen_kind if gen_kind in kinds else (kinds[0] if kinds else None)
    needed = [f"{kind}/{part}" for part in ("samples", "neighbours", "distances", "threshold")]
    if kind is None or any(k not in arrays for k in needed):
        st.warning(f"{NEAREST_FILE} lacks {', '.join(k for k in needed if k not in arrays)}")
        return
    samples, neighbours, distances, threshold = (arrays[k] for k in needed)
    if samples.shape != neighbours.shape or samples.ndim != 4 or samples.dtype != np.uint8 or len(distances) != len(samples):
        st.warning(f"{NEAREST_FILE} holds arrays of unexpected shapes")
        return
    flagged = distances < float(threshold)
    st.caption(f"Each generated sample (left) beside the training image nearest to it in the classifier's feature "
               f"space (right). A sample nearer than {float(threshold):.3f} (closer than 99% of real test images are "
               f"to their nearest training image) counts as a near-copy: {int(flagged.sum())} of {len(samples)} here.")
    pairs = np.stack([samples, neighbours], axis=1).reshape(-1, *samples.shape[1:])
    show(grid(pairs, ncols=8), "sample | nearest training image, four pairs a row")
    st.dataframe({"sample": list(range(len(samples))), "distance": np.round(distances, 3).tolist(),
                  "near-copy": ["yes" if f else "" for f in flagged]}, hide_index=True)
