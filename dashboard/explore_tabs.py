"""The tabs that explain what G learned: Directions, Project (real images into z), Memorisation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.files import UnsafeFile, read_bounded
from core.formats import nearest_npz
from core.formats.explore_npz import ExploreData
from core.formats.nearest_npz import NEAREST
from core.formats.npz import BadNpz
from core.images import BadImage, grid, numbered_grid
from core.runs import Run
from inference.latent_space import PROJECT_SECONDS, load_explore, project, read_target, to_target
from inference.runtime import RuntimeErrorForUser

from .ui import ModelKey, affordable, class_picker, generate, load_generator, rows_for, show

STRENGTHS = np.linspace(-4, 4, 9, dtype=np.float32)


@st.cache_resource(max_entries=8, show_spinner=False)
def explore_data(key: ModelKey) -> tuple[ExploreData | None, str | None]:
    return load_explore(load_generator(key), key.root)


def keep(label: str, z: np.ndarray, class_row: np.ndarray | None = None) -> None:
    st.session_state.setdefault("kept", []).append({"label": label, "z": z.astype(np.float32), "class": class_row})
    st.toast(f"kept {label}: it is now offered in Interpolate and as a base here")


def base_latent(key: ModelKey, prefix: str) -> tuple[np.ndarray, str, np.ndarray | None]:
    """The latent to start from, its label and, for a conditional model, its one-hot class row."""
    gen = load_generator(key)
    kept = st.session_state.get("kept", [])
    source = st.radio("Start from", ["a seed"] + (["a kept image"] if kept else []), horizontal=True,
                      key=f"{prefix}_src")
    if source == "a kept image":
        labels = [k["label"] for k in kept]
        label = st.selectbox("Kept image", labels, key=f"{prefix}_kept")
        item = kept[labels.index(label)]
        row = item.get("class")
        return item["z"], label, rows_for(key, 1, 0)[0] if row is None and gen.class_names else row
    seed = int(st.number_input("Seed", 0, 2**31 - 1, 0, key=f"{prefix}_seed"))
    index = class_picker(key, "Class", f"{prefix}_class", mixed=None)
    return gen.latents(seed, 1)[0], f"seed {seed}", None if index is None else rows_for(key, 1, index)[0]


def directions_tab(key: ModelKey) -> None:
    gen = load_generator(key)
    data, problem = explore_data(key)
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
    z, label, class_row = base_latent(key, "dir")
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
    images = generate(key, np.stack([z, total]), classes=rows_for(key, 2, class_row))
    show(grid(images, ncols=2), f"{label}, then moved along the chosen directions")
    if st.button("Keep the moved image", key="dir_keep"):
        keep(f"{label} moved", total, class_row)
    st.subheader("Direction × strength")
    one = st.selectbox("Direction", data.names, data.index(chosen[0]) if chosen else 0, key="dir_sweep",
                       format_func=lambda n: f"{n} — {data.effects[data.index(n)]}")
    rows = int(st.slider("Rows (seeds 0, 1, …; the first row is the base above)", 1, 8,
                         min(4, affordable(key, per_view=len(STRENGTHS), most=8, least=1)), key="dir_rows"))
    bases = np.concatenate([z[None], gen.latents(0, rows - 1)]) if rows > 1 else z[None]
    v = data.vectors[data.index(one)]
    sweep = generate(key, (bases[:, None, :] + STRENGTHS[None, :, None] * v[None, None, :]).reshape(-1, len(z)),
                     preview_columns=len(STRENGTHS), classes=rows_for(key, rows * len(STRENGTHS), class_row))
    show(grid(sweep, ncols=len(STRENGTHS)), f"{one}: strengths {STRENGTHS[0]:g} … +{STRENGTHS[-1]:g} left to right "
                                          f"({data.effects[data.index(one)]})")


def project_tab(key: ModelKey) -> None:
    gen = load_generator(key)
    st.caption(f"Find the latent whose image is nearest a real picture, with ONNX Runtime alone (no gradients: a "
               f"random pool, then an evolution strategy, for {PROJECT_SECONDS:g} s). Distance: mean squared pixel "
               "difference on a 0-1 scale.")
    data, problem = explore_data(key)
    if data is not None and not data.has_encoder and not gen.info.spec.conditional:
        st.caption(f"This model's explore data predates the encoder that gives the search its first guess: "
                   f"`python -m export.add_encoder {gen.path}` adds it (one second then gets as close as three "
                   "did without it).")
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
                st.error(f"{upload.name} {exc}")
        if problem and not len(tests):
            st.caption(problem)
    else:
        st.image(numbered_grid(tests, ncols=16), caption="test images, numbered")
        index = int(st.number_input("Test image", 0, len(tests) - 1, 0, key="proj_index"))
        target, name = to_target(tests[index], gen), f"test image {index}"
    if target is None:
        return
    index = class_picker(key, "Search within the class", "proj_class", mixed=None)
    class_row = None if index is None else rows_for(key, 1, index)[0]
    name = name if index is None else f"{name} as {gen.class_names[index]}"
    if st.button("Project", type="primary", key="proj_go"):
        with st.spinner(f"Searching for {PROJECT_SECONDS:g} s…"):
            try:
                found = project(gen, target, seconds=PROJECT_SECONDS, explore=data, class_row=class_row)
            except (RuntimeErrorForUser, ValueError, MemoryError) as exc:
                st.error(f"Could not project: {exc}")
                return
        st.session_state["projection"] = {"name": name, "z": found.z, "image": found.image, "distance": found.distance,
                                          "evaluations": found.evaluations, "seconds": found.seconds,
                                          "target": target, "class": class_row}
    result = st.session_state.get("projection")
    if result is None or result["name"] != name:
        return
    target_u8 = np.clip(np.rint(result["target"] * 255), 0, 255).astype(np.uint8)
    show(grid(np.stack([target_u8, result["image"]]), ncols=2), f"{name} (left) and G's nearest image (right)")
    st.write(f"Distance **{result['distance']:.4f}** after {result['evaluations']:,} images in "
             f"{result['seconds']:.1f} s.")
    if st.button("Keep the projection", key="proj_keep"):
        keep(f"projected {name}", result["z"], result.get("class"))


@st.cache_data(max_entries=16, show_spinner=False)
def nearest(path: str, mtime: float, root: str, gen_kind: str) -> tuple[nearest_npz.Nearest | None, str | None]:
    """One generator's memorisation arrays (that generator's, else the first the file holds), or why not."""
    try:
        raw = read_bounded(Path(path), nearest_npz.MAX_BYTES, root)
        kinds = nearest_npz.generators(raw)
        kind = gen_kind if gen_kind in kinds else (kinds[0] if kinds else None)
        if kind is None:
            raise BadNpz("holds no generator's samples")
        return nearest_npz.read(raw, kind), None
    except (UnsafeFile, BadNpz) as exc:
        return None, str(exc)


def memorisation_tab(run: Run, gen_kind: str) -> None:
    path = run.path / NEAREST
    if not path.exists():
        st.info(f"Measure it with: python -m evaluation.evaluate {run.path} (writes {NEAREST} and eval.json)")
        return
    found, problem = nearest(str(path), path.stat().st_mtime, str(run.root), gen_kind)
    if found is None:
        st.warning(f"{NEAREST}: {problem}")
        return
    samples, flagged = found.samples, found.distances < found.threshold
    st.caption(f"Each generated sample (left) beside the training image nearest to it in the classifier's feature "
               f"space (right). A sample nearer than {found.threshold:.3f} (closer than 99% of real test images are "
               f"to their nearest training image) counts as a near-copy: {int(flagged.sum())} of {len(samples)} here.")
    pairs = np.stack([samples, found.neighbours], axis=1).reshape(-1, *samples.shape[1:])
    show(grid(pairs, ncols=8), "sample | nearest training image, four pairs a row")
    st.dataframe({"sample": list(range(len(samples))), "distance": np.round(found.distances, 3).tolist(),
                  "near-copy": ["yes" if f else "" for f in flagged]}, hide_index=True)
