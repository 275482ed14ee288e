"""GAN workbench dashboard: `streamlit run dashboard/app.py [-- --runs FOLDER]`.

Reads run folders (default: ./checkpoints) and runs generators with ONNX Runtime through
`export.runtime`; torch is never imported here. The page is a thin `main()` over small
functions, one per tab, each returning early with a message when it cannot work.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only dashboard/ on the path

from dashboard import latent  # noqa: E402
from dashboard.runs import Run, discover, load_eval, load_metrics, safe_child, sample_grids  # noqa: E402
from export.runtime import OnnxGenerator, RuntimeErrorForUser  # noqa: E402
from train.images import gif_bytes, grid, png_bytes  # noqa: E402

MAX_IMAGES = 256  # per grid: bounds the work of one request
MAX_STEPS = 64  # interpolation frames
MAX_WALK_FRAMES = 192
BASE_METRICS = {"step", "epoch", "d_loss_real", "d_loss_fake", "d_acc_real", "d_acc_fake", "g_loss",
                "lr_d", "lr_g", "time", "images_per_s"}
WEIGHT_LABELS = {"generator": "raw G", "generator_ema": "EMA of G"}


def runs_root() -> Path:
    """`-- --runs DIR` after `streamlit run dashboard/app.py`, else $GAN_DASHBOARD_RUNS, else ./checkpoints."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.runs or os.environ.get("GAN_DASHBOARD_RUNS") or "checkpoints")


@st.cache_resource(max_entries=8, show_spinner="Loading the ONNX model…")
def load_generator(path: str, mtime: float) -> OnnxGenerator:
    """One ONNX Runtime session per model file version (mtime is part of the key)."""
    return OnnxGenerator(path)


def upscale(image: np.ndarray, target: int = 640) -> np.ndarray:
    """Nearest-neighbour enlargement so 28-pixel images are visible, with crisp pixels."""
    factor = max(1, min(8, round(target / max(image.shape[:2]))))
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def show(image: np.ndarray, caption: str) -> None:
    picture = upscale(image)
    st.image(picture[..., 0] if picture.shape[-1] == 1 else picture, caption=caption)


def generate(gen: OnnxGenerator, z: np.ndarray) -> np.ndarray:
    with st.spinner("Generating…"):
        images = gen.images(z)
    st.session_state["latency_ms"] = gen.last_latency_ms
    return images


# --- sidebar -------------------------------------------------------------------------------

def pick_run(runs: list[Run]) -> Run | None:
    wanted = st.query_params.get("run")
    root = runs_root()
    if wanted is not None and safe_child(root, wanted) is None:
        st.sidebar.error(f"Refused run name {wanted!r}: only run folders directly inside {root}/ can be opened.")
        wanted = None
    names = [r.name for r in runs]
    index = names.index(wanted) if wanted in names else 0
    name = st.sidebar.selectbox("Run", names, index=index, format_func=lambda n: runs[names.index(n)].label())
    return runs[names.index(name)]


def pick_model(run: Run) -> OnnxGenerator | None:
    for problem in run.problems:
        st.sidebar.warning(problem)
    if not run.models:
        return None
    kinds = list(run.models)
    kind = st.sidebar.radio("Weights", kinds, format_func=lambda k: WEIGHT_LABELS.get(k, k),
                            horizontal=True) if len(kinds) > 1 else kinds[0]
    path = run.models[kind]
    try:
        gen = load_generator(str(path), path.stat().st_mtime)
    except (RuntimeErrorForUser, OSError) as exc:
        st.sidebar.error(f"{path.name}: {exc}")
        return None
    with st.sidebar.expander("Model metadata"):
        st.json(gen.info.metadata)
    return gen


# --- tabs ----------------------------------------------------------------------------------

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


def smoothed(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    return frame.ewm(alpha=1 - alpha).mean() if alpha > 0 else frame


def metrics_frame(run: Run) -> pd.DataFrame | None:
    records, bad = load_metrics(run.path / "metrics.jsonl")
    if bad:
        st.warning(f"{run.name}: skipped {bad} unreadable line(s) in metrics.jsonl")
    if not records:
        return None
    # loss and evaluation records of the same step are merged (last non-empty value per column)
    frame = pd.DataFrame.from_records(records).groupby("step", as_index=False).last().sort_values("step")
    frame = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *sorted(BASE_METRICS)])))  # absent -> NaN
    for column in frame.columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    steps_per_epoch = run.config.get("steps_per_epoch")
    if isinstance(steps_per_epoch, int) and steps_per_epoch > 0:
        frame["epoch"] = frame["step"] / steps_per_epoch
    return frame


@st.cache_data(max_entries=16, show_spinner=False)
def grid_frames(paths: tuple[str, ...]) -> list[np.ndarray]:
    """The grid PNGs as RGB arrays (unreadable ones skipped), for the progress GIF."""
    frames = []
    for path in paths:
        try:
            with Image.open(path) as img:
                frames.append(np.asarray(img.convert("RGB")))
        except (OSError, ValueError):
            continue
    return [f for f in frames if f.shape == frames[-1].shape]


def evaluation_table(run: Run) -> None:
    report, problem = load_eval(run)
    if problem:
        st.warning(f"{run.name}: {problem}")
    if report is None:
        return
    st.subheader("Quality (python -m train.evaluate)")
    rows = {**report["generators"], **{f"reference: {k}": v for k, v in report.get("reference", {}).items()}}
    columns = ["fid", "kid", "precision", "recall", "classes_covered", "kl_uniform"]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    st.dataframe(table, key="eval_table")
    st.caption(f"step {report.get('step')}, {report.get('samples')} samples; {report.get('note', '')}")


def training_tab(run: Run, runs: list[Run]) -> None:
    frame = metrics_frame(run)
    if frame is None:
        st.info(f"{run.name} has no metrics yet (metrics.jsonl is missing or empty).")
    else:
        c1, c2 = st.columns(2)
        axis = c1.radio("x axis", ["step", "epoch"], horizontal=True, key="axis")
        alpha = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="smoothing")
        indexed = frame.dropna(subset=[axis]).set_index(axis)
        st.subheader("Losses")
        st.line_chart(smoothed(indexed[["d_loss_real", "d_loss_fake", "g_loss"]], alpha))
        st.subheader("D accuracy")
        st.line_chart(smoothed(indexed[["d_acc_real", "d_acc_fake"]], alpha))
        quality = [c for c in indexed.columns if c not in BASE_METRICS and indexed[c].notna().any()]
        if quality:
            st.subheader("Quality metrics")
            st.line_chart(indexed[quality].dropna(how="all"))
    evaluation_table(run)
    grids = sample_grids(run)
    if grids:
        st.subheader("Fixed-seed samples over training")
        shown = st.slider("Grid", 1, len(grids), len(grids), key="grid_index") if len(grids) > 1 else 1
        st.image(str(grids[shown - 1]), caption=grids[shown - 1].name)
        frames = grid_frames(tuple(map(str, grids)))
        if len(frames) > 1:
            st.image(gif_bytes(frames, duration_ms=400), caption=f"all {len(frames)} grids")
    others = [r.name for r in runs if r.name != run.name]
    compare = st.selectbox("Compare with", ["(none)", *others], key="compare")
    if compare != "(none)" and frame is not None:
        other = metrics_frame(next(r for r in runs if r.name == compare))
        if other is None:
            st.info(f"{compare} has no metrics to compare.")
        else:
            both = pd.concat({run.name: frame.set_index("step")[["g_loss", "d_loss_real"]],
                              compare: other.set_index("step")[["g_loss", "d_loss_real"]]}, axis=1)
            both.columns = [f"{r} {m}" for r, m in both.columns]
            st.line_chart(smoothed(both, 0.6))


def main() -> None:
    st.set_page_config(page_title="GAN workbench", layout="wide")
    st.title("GAN workbench")
    root = runs_root()
    runs = discover(root)
    if not runs:
        st.info(f"No runs in {root}/ yet. Create one with:\n\n"
                "```\npython -m train.dcgan\npython -m export.to_onnx\n```\n\nthen reload this page.")
        return
    run = pick_run(runs)
    gen = pick_model(run)
    status = st.sidebar.empty()
    tabs = st.tabs(["Sample", "Interpolate", "Latent arithmetic", "Training"])
    for tab, body in zip(tabs[:3], (sample_tab, interpolate_tab, arithmetic_tab)):
        with tab:
            if gen is None:
                st.error(f"{run.name} has no usable ONNX generator; see the sidebar.")
            else:
                body(gen)
    with tabs[3]:
        training_tab(run, runs)
    if gen is not None:
        status.markdown(f"**Provider:** {gen.provider.replace('ExecutionProvider', '')}  \n"
                        f"**Last generation:** {st.session_state.get('latency_ms', 0.0):.1f} ms")


main()
