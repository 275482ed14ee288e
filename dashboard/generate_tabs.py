"""The tabs that generate images: Sample, Interpolate and Latent arithmetic (ONNX Runtime only)."""
from __future__ import annotations

import random

import numpy as np
import streamlit as st

from core import latent
from core.images import grid, numbered_grid, png_bytes, upscale
from inference.runtime import latents

from .ui import MAX_IMAGES, MAX_STEPS, MAX_WALK_FRAMES, ModelKey, affordable, class_picker, classifier_for, generate, \
    gif, load_generator, rows_for, show

STRIP_COLUMNS = 16  # interpolation frames per row: a 64-step path wraps into 4 readable rows


def new_seed() -> None:
    st.session_state["seed"] = random.randrange(2**31)


def sample_tab(key: ModelKey) -> None:
    gen = load_generator(key)
    st.session_state.setdefault("seed", 42)  # set here, not as the widget's default: "New seed" changes it
    left, middle, right = st.columns(3)
    seed = left.number_input("Seed", 0, 2**31 - 1, key="seed")
    left.button("New seed", on_click=new_seed)
    count = middle.slider("Images", 1, MAX_IMAGES, affordable(key), key="count",
                          help="The default fits about two seconds of this model's work on this machine; the first images "
                               "show sooner")
    truncation = right.slider("Truncation (scale of z)", 0.1, 2.0, 1.0, 0.1, key="truncation")
    wanted = class_picker(key, "Class", "sample_class")
    z = gen.latents(int(seed), count, truncation)
    classes = rows_for(key, count, wanted)
    images = generate(key, z, preview_columns=min(8, count), classes=classes)
    picture = numbered_grid(images, ncols=min(8, count))
    drawn = "" if classes is None else (" · each class in turn" if wanted is None else f" · {gen.class_names[wanted]}")
    st.image(picture, caption=f"{count} images · seed {seed} · truncation {truncation:g}{drawn} · the number in "
                              "each corner is what 'Keep images' below asks for")
    plain = grid(images, ncols=min(8, count))
    c1, c2 = st.columns(2)
    c1.download_button("Download grid, enlarged (PNG)", png_bytes(upscale(plain, 1024)), f"samples-seed{seed}.png",
                       "image/png", key="dl_grid_big")
    c2.download_button("Download grid, native size (PNG)", png_bytes(plain), f"samples-seed{seed}-native.png",
                       "image/png", key="dl_grid_native")
    chosen = st.multiselect("Keep images for the other tabs (by the number in their corner)", list(range(count)),
                            key="to_keep")
    if st.button("Keep selected", disabled=not chosen):
        kept = st.session_state.setdefault("kept", [])
        kept.extend({"label": f"seed {seed} #{i}", "z": z[i], "class": None if classes is None else classes[i]}
                    for i in chosen)
    kept = st.session_state.get("kept", [])
    if kept:
        st.write(f"Kept: {', '.join(k['label'] for k in kept)}")
        if st.button("Forget kept images"):
            st.session_state["kept"] = []
            st.rerun()


def interpolate_tab(key: ModelKey) -> None:
    gen = load_generator(key)
    kept = st.session_state.get("kept", [])
    source = st.radio("Between", ["two seeds", "two kept images"], horizontal=True, key="interp_source")
    # Widgets come before any early return: Streamlit forgets the state of widgets not drawn in a run.
    method = st.radio("Path", ["spherical (slerp)", "linear"], horizontal=True, key="interp_method")
    steps = st.slider("Steps", 2, MAX_STEPS, min(10, affordable(key)), key="interp_steps")
    if source == "two kept images":
        if len(kept) < 2:
            st.info("Keep at least two images in the Sample tab first.")
            return
        labels = [k["label"] for k in kept]
        a = st.selectbox("From", labels, 0, key="interp_a")
        b = st.selectbox("To", labels, 1, key="interp_b")
        z_a, z_b = kept[labels.index(a)]["z"], kept[labels.index(b)]["z"]
        class_a, class_b = kept[labels.index(a)].get("class"), kept[labels.index(b)].get("class")
    else:
        c1, c2 = st.columns(2)
        z_a = gen.latents(int(c1.number_input("Seed A", 0, 2**31 - 1, 1, key="seed_a")), 1)[0]
        z_b = gen.latents(int(c2.number_input("Seed B", 0, 2**31 - 1, 2, key="seed_b")), 1)[0]
        class_a, class_b = None, None
        if gen.class_names:  # a conditional model: the path can also go from one class to another
            a_index = c1.selectbox("Class A", gen.class_names, key="class_a")
            b_index = c2.selectbox("Class B", gen.class_names, 1, key="class_b")
            class_a, class_b = (gen.class_rows(1, gen.class_names.index(n))[0] for n in (a_index, b_index))
    path = (latent.slerp if method.startswith("spherical") else latent.lerp)(z_a, z_b, steps)
    if gen.class_names and (class_a is None or class_b is None):  # kept before classes were recorded: the first
        class_a = class_b = gen.class_rows(1, 0)[0]
    classes = None if class_a is None else latent.lerp(class_a, class_b, steps)
    frames = generate(key, path, preview_columns=min(steps, STRIP_COLUMNS), classes=classes)
    rows = -(-steps // STRIP_COLUMNS)
    show(grid(frames, ncols=min(steps, STRIP_COLUMNS)),
         f"{steps} steps, {method}" + (f", {rows} rows of {STRIP_COLUMNS}, read left to right" if rows > 1 else ""))
    animation = gif(frames, 160, 120)
    st.image(animation, caption="animated")
    st.download_button("Download GIF", animation, "interpolation.gif", "image/gif", key="dl_interp")
    if not st.toggle("Looping walk through latent space", key="walk_on"):
        return
    c1, c2, c3 = st.columns(3)
    points = c1.slider("Points", 3, 8, 4, key="walk_points")
    per_leg = c2.slider("Frames per leg", 4, MAX_WALK_FRAMES // 8, 12, key="walk_frames")
    walk_seed = c3.number_input("Walk seed", 0, 2**31 - 1, 7, key="walk_seed")
    walk = latent.loop_walk(gen.latents(int(walk_seed), points), per_leg)
    walk_gif = gif(generate(key, walk), 160, 80)
    st.image(walk_gif, caption=f"{len(walk)}-frame loop")
    st.download_button("Download walk GIF", walk_gif, "latent-walk.gif", "image/gif", key="dl_walk")


def class_groups(labels: np.ndarray, names: tuple[str, ...], per_group: int = 3) -> list[tuple[str, list[int]]]:
    """Three groups of candidates, each of one class (the three classes with the most candidates)."""
    counts = np.bincount(labels, minlength=len(names))
    classes = [int(c) for c in np.argsort(-counts, kind="stable") if counts[c] > 0][:3]
    return [(names[c], [int(i) for i in np.flatnonzero(labels == c)[:per_group]]) for c in classes]


def reset_groups() -> None:
    for name in ("group_a", "group_b", "group_c"):
        st.session_state.pop(name, None)


@st.cache_data(max_entries=32, show_spinner=False)
def _labels(key: ModelKey, images: np.ndarray) -> np.ndarray | None:
    labeller = classifier_for(load_generator(key))
    return None if labeller is None else labeller.predict(images)


def arithmetic_tab(key: ModelKey) -> None:
    gen = load_generator(key)
    st.caption("Géron, Fig. 17-18: average the codings of each group, then compute A − B + C.")
    seed = st.number_input("Candidates seed", 0, 2**31 - 1, 0, key="arith_seed", on_change=reset_groups)
    count = affordable(key, most=64, least=16)
    wanted = class_picker(key, "Class of the candidates", "arith_class")
    candidates_z = latents(int(seed), count, gen.info.latent_dim)
    classes = rows_for(key, count, wanted)
    candidates = generate(key, candidates_z, preview_columns=16, classes=classes)
    st.image(numbered_grid(candidates, ncols=16), caption=f"{count} candidates, numbered")
    labels = _labels(key, candidates)
    defaults = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    if labels is not None:
        groups_found = class_groups(labels, classifier_for(gen).class_names)
        if len(groups_found) == 3:
            defaults = [idx for _, idx in groups_found]
            st.info("Each group starts as one class, as the project's classifier labels the candidates: "
                    + " − ".join(f"{name} ({len(idx)})" for name, idx in groups_found[:2])
                    + f" + {groups_found[2][0]} ({len(groups_found[2][1])}). Try swapping in images that share a "
                      "trait across classes (dark, wide, striped) to move that trait.")
        else:
            st.info(f"The project's classifier finds only {' and '.join(n for n, _ in groups_found)} among these "
                    "candidates, so the groups start as images 0-2, 3-5 and 6-8: try another candidates seed, or "
                    "pick a few images of one kind per group.")
    else:
        st.info("Pick a few images of one kind per group; the mean of several is smoother than any one.")
    c1, c2, c3 = st.columns(3)
    groups = {
        name: column.multiselect(f"Group {name}", range(count), default, key=f"group_{name.lower()}")
        for name, column, default in zip("ABC", (c1, c2, c3), defaults)
    }
    noise = st.slider("Noise around the result", 0.0, 1.0, 0.2, 0.05, key="arith_noise")
    empty = [name for name, idx in groups.items() if not idx]
    if empty:
        st.warning(f"Pick at least one image for group {', '.join(empty)}.")
        return
    means = {name: candidates_z[idx].mean(axis=0) for name, idx in groups.items()}
    result = latent.arithmetic(*(candidates_z[groups[k]] for k in "ABC"))
    variations = latent.jitter(result, 8, noise, seed=int(seed))
    rows = None if classes is None else np.repeat(classes[:1], 3 + len(variations), axis=0)  # the candidates' class
    images = generate(key, np.concatenate([np.stack(list(means.values())), variations]), classes=rows)
    show(grid(images[:3], ncols=3), "mean of A, mean of B, mean of C")
    show(grid(images[3:], ncols=8), "A − B + C (first), then with noise")
