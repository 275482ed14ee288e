"""GAN workbench dashboard: `streamlit run dashboard/app.py [-- --runs FOLDER]`.

Reads run folders (default: ./checkpoints) and runs generators with ONNX Runtime through
`inference.runtime`; torch is never imported here. The page is a thin `main()` over the
sidebar and one function per tab (generate_tabs.py, training_tab.py), each returning early with a
message when it cannot work.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts only dashboard/ on the path

from core.formats import eval_json  # noqa: E402
from core.runs import Listing, Run, discover, why_not_listed  # noqa: E402
from core.targets import best_exported  # noqa: E402
from dashboard.glance import glance_after_first_paint  # noqa: E402
from dashboard.explore_tabs import directions_tab, memorisation_tab, project_tab  # noqa: E402
from dashboard.generate_tabs import arithmetic_tab, interpolate_tab, sample_tab  # noqa: E402
from dashboard.ui import GenerationFailed, ModelKey, load_generator  # noqa: E402
from core.errors import UserError  # noqa: E402
from inference import model_card, web  # noqa: E402
from inference.runtime import RuntimeErrorForUser  # noqa: E402

WEIGHT_LABELS = {"generator": "raw G", "generator_ema": "EMA of G"}
VIEWS = ["Sample", "Interpolate", "Latent arithmetic", "Directions", "Project", "Training", "Memorisation"]
FILTER_FROM = 30  # runs: above this, a filter box above the list
LISTING_SECONDS = 5.0
# The generators the project ships; $GAN_DASHBOARD_PRETRAINED names another folder, or "" to list none.
_SHIPPED = os.environ.get("GAN_DASHBOARD_PRETRAINED", str(Path(__file__).resolve().parent.parent / "pretrained"))
PRETRAINED = Path(_SHIPPED) if _SHIPPED else None


def runs_root() -> Path:
    """`-- --runs DIR` after `streamlit run dashboard/app.py`, else $GAN_DASHBOARD_RUNS, else ./checkpoints."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.runs or os.environ.get("GAN_DASHBOARD_RUNS") or "checkpoints")


@st.cache_resource(ttl=LISTING_SECONDS, max_entries=4, show_spinner=False)
def listing(root: str, mtime: float) -> Listing:
    """The run folders under root, read again when a run is added or removed (root's mtime) and at least every
    LISTING_SECONDS (a run's own files change): with thousands of runs, a rerun must not reread them all."""
    return discover(root)


def listed(root: Path) -> Listing:
    return listing(str(root), root.stat().st_mtime if root.is_dir() else 0.0)


def shipped_order(run: Run) -> tuple:
    """The shipped generators by preset (the default DCGAN first), unconditional before conditional (a conditional
    model's FID is not comparable: it is told each image's class), the best of each (lowest FID) first."""
    fids = eval_json.fids(eval_json.read(run.eval_path, run.root)[0]).values()
    return (run.preset != "dcgan", run.preset, run.conditional, min(fids, default=float("inf")))


@st.cache_resource(ttl=LISTING_SECONDS, max_entries=4, show_spinner=False)
def shipped(root: str, mtime: float) -> list[Run]:
    """The shipped runs in the sidebar's order, their eval.json files read once per listing, not every rerun."""
    return sorted(listing(root, mtime).runs, key=shipped_order)


def all_runs() -> tuple[list[tuple[str, Run]], dict[str, str]]:
    """(key, run) for the user's runs, then the generators shipped in pretrained/ (keys "pretrained/<name>"),
    and the folders skipped with why."""
    mine = listed(runs_root())
    runs, skipped = [(run.name, run) for run in mine.runs], dict(mine.skipped)
    if PRETRAINED is not None and PRETRAINED.is_dir() and PRETRAINED.resolve() != runs_root().resolve():
        mtime = PRETRAINED.stat().st_mtime
        runs += [(f"pretrained/{run.name}", run) for run in shipped(str(PRETRAINED), mtime)]
        skipped.update({f"pretrained/{k}": v for k, v in listing(str(PRETRAINED), mtime).skipped.items()})
    return runs, skipped


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

def pick_run(runs: list[tuple[str, Run]], skipped: dict[str, str]) -> Run:
    wanted = st.query_params.get("run")
    keys = [key for key, _ in runs]
    if wanted is not None and wanted not in keys:
        name = wanted.removeprefix("pretrained/")
        root = PRETRAINED if wanted.startswith("pretrained/") and PRETRAINED is not None else runs_root()
        st.sidebar.error(f"?run={wanted[:60]}: {skipped.get(wanted) or why_not_listed(root, name)}; showing "
                         "another run.")
        wanted = None
    if skipped:
        with st.sidebar.expander(f"{len(skipped)} folder(s) not listed"):
            st.markdown("\n".join(f"- {reason}" for reason in sorted(skipped.values())[:50]))
    shown = keys
    if len(keys) > FILTER_FROM:
        text = st.sidebar.text_input(f"Filter {len(keys):,} runs", key="run_filter", placeholder="part of a name")
        shown = [k for k in keys if text.lower() in k.lower()] or keys
        if wanted and wanted not in shown:
            shown = [wanted, *shown]
    key = st.sidebar.selectbox("Run", shown, index=shown.index(wanted) if wanted in shown else 0, key="run")
    run = dict(runs)[key]
    st.sidebar.caption(run.label().split(" — ", 1)[-1])
    return run


def pick_model(run: Run) -> ModelKey | None:
    for problem in run.problems:
        st.sidebar.warning(problem)
    if not run.models:
        return None
    kinds = list(run.models)
    best = best_exported(run.path)
    default = kinds.index(best.stem) if best is not None and best.stem in kinds else 0  # lowest FID where measured
    kind = st.sidebar.radio("Weights", kinds, index=default, format_func=lambda k: WEIGHT_LABELS.get(k, k),
                            horizontal=True) if len(kinds) > 1 else kinds[0]
    path = run.models[kind]
    try:
        key = ModelKey.of(path, run.root)
        gen = load_generator(key)
    except (RuntimeErrorForUser, OSError) as exc:
        st.sidebar.error(f"{path.name}: {exc}")
        return None
    step = typed(gen.info.metadata).get("step")
    st.sidebar.caption(f"Trained: {run.trained(step if isinstance(step, int) else None)}")
    if gen.fell_back_from:
        st.sidebar.warning(f"{gen.fell_back_from.replace('ExecutionProvider', '')} could not start here; "
                           f"generating with {gen.provider.replace('ExecutionProvider', '')} instead.")
    with st.sidebar.expander("Model metadata"):
        st.json(typed(gen.info.metadata))
    share(run)
    return key


def share(run: Run) -> None:
    """The run as a page anyone can open (python -m inference.web) and its model card, made when clicked."""
    with st.sidebar.expander("Share this generator"):
        try:
            web.ort_files()
        except UserError as exc:
            st.caption(f"The web page: {exc}")
        else:
            st.download_button("Web page (zip of a static site)", lambda: web.zipped(web.site_files(run.path), run.name),
                               f"{run.name}-web.zip", "application/zip", key="dl_site", on_click="ignore")
        st.download_button("Model card (README.md)", lambda: model_card.card(run.path).encode(), f"{run.name}-README.md",
                           "text/markdown", key="dl_card", on_click="ignore")
        st.caption("Unzip the site and serve it: python -m http.server --directory FOLDER 8000")


def warm_up_training_view() -> None:
    """Import the Training view's libraries (pandas and pyarrow: most of a second) in the background once the first
    view is drawn, so that opening it later does not wait for them."""
    if "dashboard.training_tab" not in sys.modules and not any(t.name == "warm-up" for t in threading.enumerate()):
        threading.Thread(target=importlib.import_module, args=("dashboard.training_tab",), name="warm-up",
                         daemon=True).start()


def main() -> None:
    st.set_page_config(page_title="GAN workbench", layout="wide")
    st.title("GAN workbench")
    root = runs_root()
    runs, skipped = all_runs()
    if not runs:
        st.info(f"No runs in {root}/ yet. Create one with:\n\n"
                "```\npython -m train.dcgan\npython -m export.to_onnx\n```\n\nthen reload this page.")
        return
    run = pick_run(runs, skipped)
    key = pick_model(run)
    status = st.sidebar.empty()
    at_a_glance = st.sidebar.empty()
    # Only the open tab runs (Streamlit reruns the script on every click): a click in one view generates
    # nothing for the others.
    tabs = st.tabs(VIEWS, key="view", on_change="rerun")
    generating = dict(zip(VIEWS, (sample_tab, interpolate_tab, arithmetic_tab, directions_tab, project_tab)))
    for name, tab in zip(VIEWS, tabs):
        if not tab.open:
            continue
        with tab:
            if name == "Training":
                from dashboard.training_tab import training_tab  # pandas: only when this view opens

                training_tab(run, [r for _, r in runs])
            elif name == "Memorisation":
                weights = load_generator(key).info.metadata.get("weights", "generator") if key else "generator"
                memorisation_tab(run, weights)
            elif key is None:
                st.error(f"{run.name} has no usable ONNX generator; see the sidebar.")
            else:
                try:
                    generating[name](key)
                except GenerationFailed:
                    pass  # the tab has shown why
    warm_up_training_view()
    glance_after_first_paint(run, at_a_glance)
    if key is not None:
        gen = load_generator(key)
        status.markdown(f"**Provider:** {gen.provider.replace('ExecutionProvider', '')}  \n"
                        f"**Last generation:** {st.session_state.get('latency_ms', 0.0):.1f} ms")


main()
