"""GAN workbench dashboard: `streamlit run dashboard/app.py [-- --runs FOLDER]`.

Reads run folders (default: ./checkpoints) and runs generators with ONNX Runtime through
`export.runtime`; torch is never imported here. The page is a thin `main()` over the
sidebar and one function per tab (generate_tabs.py, training_tab.py), each returning early with a
message when it cannot work.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only dashboard/ on the path

from core.runs import Run, discover, safe_child  # noqa: E402
from dashboard.explore_tabs import directions_tab, memorisation_tab, project_tab  # noqa: E402
from dashboard.generate_tabs import arithmetic_tab, interpolate_tab, sample_tab  # noqa: E402
from dashboard.training_tab import training_tab  # noqa: E402
from dashboard.ui import GenerationFailed, load_generator  # noqa: E402
from export.runtime import OnnxGenerator, RuntimeErrorForUser  # noqa: E402

WEIGHT_LABELS = {"generator": "raw G", "generator_ema": "EMA of G"}
# The generators the project ships; $GAN_DASHBOARD_PRETRAINED names another folder, or "" to list none.
_SHIPPED = os.environ.get("GAN_DASHBOARD_PRETRAINED", str(Path(__file__).resolve().parent.parent / "pretrained"))
PRETRAINED = Path(_SHIPPED) if _SHIPPED else None


def runs_root() -> Path:
    """`-- --runs DIR` after `streamlit run dashboard/app.py`, else $GAN_DASHBOARD_RUNS, else ./checkpoints."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.runs or os.environ.get("GAN_DASHBOARD_RUNS") or "checkpoints")


def all_runs() -> list[tuple[str, Run]]:
    """(key, run) for the user's runs, then the generators shipped in pretrained/ (keys "pretrained/<name>")."""
    runs = [(run.name, run) for run in discover(runs_root())]
    if PRETRAINED is not None and PRETRAINED.is_dir() and PRETRAINED.resolve() != runs_root().resolve():
        runs += [(f"pretrained/{run.name}", run) for run in discover(PRETRAINED)]
    return runs


def typed(metadata: dict) -> dict:
    """Metadata values as what they are (numbers, lists, true/false), not all as strings."""
    out = {}
    for key, value in metadata.items():
        try:
            out[key] = json.loads(value)
        except (ValueError, TypeError):
            out[key] = value
    return out


# --- sidebar -------------------------------------------------------------------------------

def pick_run(runs: list[tuple[str, Run]]) -> Run:
    wanted = st.query_params.get("run")
    keys = [key for key, _ in runs]
    if wanted is not None and wanted not in keys:
        name = wanted.removeprefix("pretrained/")
        root = PRETRAINED if wanted.startswith("pretrained/") and PRETRAINED is not None else runs_root()
        if safe_child(root, name) is None:
            st.sidebar.error(f"Refused run name {wanted[:60]!r}: only run folders directly inside {root}/ can be opened.")
        wanted = None
    key = st.sidebar.selectbox("Run", keys, index=keys.index(wanted) if wanted in keys else 0)
    run = dict(runs)[key]
    st.sidebar.caption(run.label().split(" — ", 1)[-1])
    return run


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
        gen = load_generator(str(path), path.stat().st_mtime, str(run.root))
    except (RuntimeErrorForUser, OSError) as exc:
        st.sidebar.error(f"{path.name}: {exc}")
        return None
    if gen.fell_back_from:
        st.sidebar.warning(f"{gen.fell_back_from.replace('ExecutionProvider', '')} could not start here; "
                           f"generating with {gen.provider.replace('ExecutionProvider', '')} instead.")
    with st.sidebar.expander("Model metadata"):
        st.json(typed(gen.info.metadata))
    return gen


def main() -> None:
    st.set_page_config(page_title="GAN workbench", layout="wide")
    st.title("GAN workbench")
    root = runs_root()
    runs = all_runs()
    if not runs:
        st.info(f"No runs in {root}/ yet. Create one with:\n\n"
                "```\npython -m train.dcgan\npython -m export.to_onnx\n```\n\nthen reload this page.")
        return
    run = pick_run(runs)
    gen = pick_model(run)
    status = st.sidebar.empty()
    tabs = st.tabs(["Sample", "Interpolate", "Latent arithmetic", "Directions", "Project", "Training",
                    "Memorisation"])
    bodies = (sample_tab, interpolate_tab, arithmetic_tab, lambda g: directions_tab(g, run), lambda g: project_tab(g, run))
    for tab, body in zip(tabs[:5], bodies):
        with tab:
            if gen is None:
                st.error(f"{run.name} has no usable ONNX generator; see the sidebar.")
            else:
                try:
                    body(gen)
                except GenerationFailed:
                    pass  # the tab has shown why
    with tabs[5]:
        training_tab(run, [r for _, r in runs])
    with tabs[6]:
        memorisation_tab(run, gen.info.metadata.get("weights", "generator") if gen is not None else "generator")
    if gen is not None:
        status.markdown(f"**Provider:** {gen.provider.replace('ExecutionProvider', '')}  \n"
                        f"**Last generation:** {st.session_state.get('latency_ms', 0.0):.1f} ms")


main()
