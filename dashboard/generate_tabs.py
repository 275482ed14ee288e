"""The tabs that generate images: Sample, Interpolate and Latent arithmetic (ONNX Runtime only)."""
from __future__ import annotations

import random

import numpy as np
import streamlit as st

from core import latent
from core.images import gif_bytes, grid, png_bytes, upscale
from export.runtime import OnnxGenerator

from .ui import MAX_IMAGES, MAX_STEPS, MAX_WALK_FRAMES, generate, show


def new_seed() -> None:
    st.session_state["seed"] = random.randrange(2**31)


def sample_tab(gen: OnnxGenerator) -> None:
    left, middle, right = st.columns(3)
    seed = left.number_input("Seed", 0, 2**31 - 1, 42, key="seed")
    left.button("New seed", on_click=new_seed)
    count = middle.slider("Images", 1, MAX_IMAGES, 64, key="count")
    truncation = right.slider("Truncation (scale of z)", 0.1, 2.0, 1.0, 0.1, key="truncation")
    z = gen.latents(int(seed), count, truncation)
    images = generate(gen, z)
    picture = grid(images, ncols=min(8, count))
    show(picture, f"{count} images · seed {seed} · truncation {truncation:g} · numbered row by row from 0")
    st.download_button("Download grid (PNG)", png_bytes(picture), f"samples-seed{seed}.png", "image/png")
    chosen = st.multiselect("Keep images for the other tabs", list(range(count)), key="to_keep")
    if st.button("Keep selected", disabled=not chosen):
        kept = st.session_state.setdefault("kept", [])
        kept.extend({"label": f"seed {seed} #{i}", "z": z[i]} for i in chosen)
    kept = st.session_state.get("kept", [])
    if kept:
        st.write(f"Kept: {', '.join(k['label'] for k in kept)}")
        if st.button("Forget kept images"):
            st.session_state["kept"] = []
            st.rerun()


def interpolate_tab(gen: OnnxGenerator) -> None:
    kept = st.session_state.get("kept", [])
    source = st.radio("Between", ["two seeds", "two kept images"], horizontal=True, key="interp_source")
    # Widgets come before any early return: Streamlit forgets the state of widgets not drawn in a run.
    method = st.radio("Path", ["spherical (slerp)", "linear"], horizontal=True, key="interp_method")
    steps = st.slider("Steps", 2, MAX_STEPS, 10, key="interp_steps")
    if source == "two kept images":
        if len(kept) < 2:
            st.info("Keep at least two images in the Sample tab first.")
            return
        labels = [k["label"] for k in kept]
        a = st.selectbox("From", labels, 0, key="interp_a")
        b = st.selectbox("To", labels, 1, key="interp_b")
        z_a, z_b = kept[labels.index(a)]["z"], kept[labels.index(b)]["z"]
    else:
        c1, c2 = st.columns(2)
        z_a = gen.latents(int(c1.number_input("Seed A", 0, 2**31 - 1, 1, key="seed_a")), 1)[0]
        z_b = gen.latents(int(c2.number_input("Seed B", 0, 2**31 - 1, 2, key="seed_b")), 1)[0]
    path = (latent.slerp if method.startswith("spherical") else latent.lerp)(z_a, z_b, steps)
    frames = generate(gen, path)
    show(grid(frames, ncols=steps), f"{steps} steps, {method}")
    gif = gif_bytes([upscale(f, 160) for f in frames], duration_ms=120)
    st.image(gif, caption="animated")
    st.download_button("Download GIF", gif, "interpolation.gif", "image/gif", key="dl_interp")
    with st.expander("Looping walk through latent space"):
        c1, c2, c3 = st.columns(3)
        points = c1.slider("Points", 3, 8, 4, key="walk_points")
        per_leg = c2.slider("Frames per leg", 4, MAX_WALK_FRAMES // 8, 12, key="walk_frames")
        walk_seed = c3.number_input("Walk seed", 0, 2**31 - 1, 7, key="walk_seed")
        walk = latent.loop_walk(gen.latents(int(walk_seed), points), per_leg)
        walk_gif = gif_bytes([upscale(f, 160) for f in generate(gen, walk)], duration_ms=80)
        st.image(walk_gif, caption=f"{len(walk)}-frame loop")
        st.download_button("Download walk GIF", walk_gif, "latent-walk.gif", "image/gif", key="dl_walk")


def arithmetic_tab(gen: OnnxGenerator) -> None:
    st.caption("Géron, Fig. 17-18: average the codings of each group, then compute A − B + C.")
    seed = st.number_input("Candidates seed", 0, 2**31 - 1, 0, key="arith_seed")
    candidates_z = gen.latents(int(seed), 32)
    candidates = generate(gen, candidates_z)
    show(grid(candidates, ncols=8), "32 candidates, numbered row by row from 0")
    c1, c2, c3 = st.columns(3)
    groups = {
        "A": c1.multiselect("Group A", range(32), [0, 1, 2], key="group_a"),
        "B": c2.multiselect("Group B", range(32), [3, 4, 5], key="group_b"),
        "C": c3.multiselect("Group C", range(32), [6, 7, 8], key="group_c"),
    }
    noise = st.slider("Noise around the result", 0.0, 1.0, 0.2, 0.05, key="arith_noise")
    empty = [name for name, idx in groups.items() if not idx]
    if empty:
        st.warning(f"Pick at least one image for group {', '.join(empty)}.")
        return
    means = {name: candidates_z[idx].mean(axis=0) for name, idx in groups.items()}
    result = latent.arithmetic(*(candidates_z[groups[k]] for k in "ABC"))
    variations = latent.jitter(result, 8, noise, seed=int(seed))
    images = generate(gen, np.concatenate([np.stack(list(means.values())), variations]))
    show(grid(images[:3], ncols=3), "mean of A, mean of B, mean of C")
    show(grid(images[3:], ncols=8), "A − B + C (first), then with noise")
