"""Experiments: a dataset through several variants, the results side by side, ratings, pairwise, compare."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bilan_core import Bilan, BilanError
from bilan_core.app.compare_view import ratings_table
from bilan_core.app.experiment_view import (
    FREE_MESSAGES,
    cells_jsonl,
    next_pair_item,
    prompt_choices,
    rating_table,
    readable_flips,
    results_csv,
    side_by_side,
    variant_from_form,
)
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.experiments.batch_files import upload_limit_mb
from bilan_core.experiments.batch_runs import BatchProgress
from bilan_core.experiments.comparisons import record_preference
from bilan_core.experiments.datasets import items_from_file
from bilan_core.experiments.experiment_report import check_vote_agreement, results_grid, summary_frame
from bilan_core.experiments.experiment_runs import (
    ExperimentRun,
    compare_runs,
    get_experiment,
    pairwise_comparison,
    resume_experiment,
    start_experiment,
)
from bilan_core.store.batch_runs import MAX_CONCURRENCY
from pages.model_choice import model_options
from pages.notices import PageNotices
from pages.rating_grid import rating_grid
from pages.shared import app_client, current_user, offline_banner, visitor_client

NOTICE_KEY = "exp_notice"
PENDING_KEY = "exp_pending"
RUN_KEY = "exp_run"
PAIR_KEY = "exp_pair"
MAX_VARIANTS = 6
VERDICTS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}
SUMMARY_HEADINGS = {
    "variant": "Variant", "model": "Model", "items": "Items", "errors": "Errors", "up": "👍 good",
    "down": "👎 bad", "positive_rate": st.column_config.NumberColumn("Positive rate", format="percent"),
    "ci_low": st.column_config.NumberColumn("95% low", format="percent"),
    "ci_high": st.column_config.NumberColumn("95% high", format="percent"),
    "check_pass_rate": st.column_config.NumberColumn("Checks passed", format="percent"),
    "check_vote_agreement": st.column_config.NumberColumn("Checks agree with votes", format="percent"),
    "pairwise_wins": "Pairwise wins",
    "total_cost": st.column_config.NumberColumn("Cost (USD)", format="%.4f"),
    "median_latency_ms": st.column_config.NumberColumn("Median latency (ms)", format="%.0f"),
}  # fmt: skip
FLIP_HEADINGS = {
    "item": "Item", "variant": "Variant", "input": "Input", "vote_a": "Vote (earlier run)",
    "vote_b": "Vote (this run)", "check_a": "Check (earlier run)", "check_b": "Check (this run)",
    "answer_a": "Answer (earlier run)", "answer_b": "Answer (this run)",
}  # fmt: skip


notices = PageNotices(NOTICE_KEY, PENDING_KEY)
note, show_notice, requested = notices.note, notices.show, notices.request


def dataset_section(client: Bilan) -> str | None:
    st.subheader("Dataset")
    names = [dataset.name for dataset in client.list_datasets()]
    with st.expander("New dataset from a file", expanded=not names):
        st.text_input("Name", key="exp_new_dataset")
        limit = client.settings.batch_max_file_bytes
        st.file_uploader(
            "CSV, JSONL or TXT: an input or prompt column, or one column per variable; optional expected",
            type=["csv", "jsonl", "ndjson", "txt"],
            key="exp_upload",
            max_upload_size=upload_limit_mb(limit),
        )
        st.button("Create dataset", key="exp_create_dataset", on_click=requested, args=("dataset",))
    if not names:
        st.caption("No dataset yet: create one from a file, or with `bilan_core.create_dataset`.")
        return None
    name = st.selectbox("Dataset", names, key="exp_dataset")
    contents = client.get_dataset(name)
    st.caption(escape_markdown(f"{contents.dataset.size} items. {contents.dataset.description or ''}"))
    return name


def create_dataset(client: Bilan) -> None:
    upload = st.session_state.get("exp_upload")
    try:
        if upload is None:
            raise ValueError("choose a file first")
        max_bytes = client.settings.batch_max_file_bytes
        items = items_from_file(upload.name, upload.getvalue(), max_bytes=max_bytes)
        dataset = client.create_dataset(st.session_state.get("exp_new_dataset") or "", items)
    except (BilanError, ValueError) as exc:
        note(f"No dataset was created: {exc}")
        return
    st.session_state["exp_dataset"] = dataset.name
    note(f"Dataset {dataset.name} created with {dataset.size} items.", "success")


def variant_rows(client: Bilan) -> None:
    st.subheader("Variants")
    count = st.number_input("Variants", min_value=1, max_value=MAX_VARIANTS, value=2, key="exp_count")
    models, prompts = model_options(), prompt_choices(client)
    for index in range(int(count)):
        name_column, model_column, prompt_column, temperature_column = st.columns([2, 2, 2, 2])
        name_column.text_input("Name", value=f"variant {index + 1}", key=f"exp_v{index}_name")
        model_column.selectbox("Model", models, key=f"exp_v{index}_model")
        prompt_column.selectbox("Prompt", prompts, key=f"exp_v{index}_prompt")
        temperature_column.slider("Temperature", 0.0, 2.0, 0.7, 0.1, key=f"exp_v{index}_temperature")
        if st.session_state.get(f"exp_v{index}_prompt", FREE_MESSAGES) == FREE_MESSAGES:
            system_column, user_column = st.columns(2)
            system_column.text_area("System prompt", key=f"exp_v{index}_system", height=68)
            user_column.text_area(
                "User template ({{variable}}; empty: the item's text)", key=f"exp_v{index}_user", height=68
            )


def form_variants(client: Bilan) -> list[dict[str, object]]:
    state = st.session_state
    return [
        variant_from_form(
            client,
            name=state.get(f"exp_v{index}_name", ""),
            model=state.get(f"exp_v{index}_model"),
            prompt=state.get(f"exp_v{index}_prompt", FREE_MESSAGES),
            system=state.get(f"exp_v{index}_system", ""),
            user=state.get(f"exp_v{index}_user", ""),
            temperature=state.get(f"exp_v{index}_temperature"),
        )
        for index in range(int(state.get("exp_count", 2)))
    ]


def start_from_form(client: Bilan, dataset: str | None) -> str | None:
    try:
        if dataset is None:
            raise ValueError("create or pick a dataset first")
        run = start_experiment(
            visitor_client(),
            dataset,
            form_variants(client),
            name=st.session_state.get("exp_name") or None,
            concurrency=int(st.session_state.get("exp_concurrency", 8)),
        )
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(f"Nothing was started: {exc}"))
        return None
    return run.id


def run_with_progress(run_id: str) -> None:
    """Answer the run's pending cells with a progress bar; Stop (or a closed tab) leaves it resumable."""
    bar = st.progress(0.0, text="Starting…")
    st.button("⏹️ Stop", key="exp_stop", help="Stop here; done cells are kept, the run can be resumed.")

    def show(progress: BatchProgress) -> None:
        bar.progress(progress.fraction, text=progress.describe())

    try:
        final = resume_experiment(visitor_client(), run_id, on_progress=show).run
    except (BilanError, ValueError) as exc:
        note(f"The run stopped: {exc}. Resume it below.")
    else:
        kind = "success" if final.failed == 0 else "warning"
        note(f"Run {final.status}: {final.succeeded} ok, {final.failed} failed of {final.total}.", kind)
    st.session_state[RUN_KEY] = run_id
    st.rerun()


def results_section(client: Bilan) -> None:
    runs = [ExperimentRun(client, run) for run in client.recent_experiment_runs(limit=50)]
    st.subheader("Results")
    if not runs:
        st.caption("No experiment yet.")
        return
    labels = {run.id: run.describe() for run in runs}
    if st.session_state.get(RUN_KEY) not in labels:
        st.session_state[RUN_KEY] = runs[0].id
    run = get_experiment(client, st.selectbox("Run", list(labels), key=RUN_KEY, format_func=labels.get))
    if run.run.succeeded + run.run.failed < run.run.total:
        st.button("Resume this run", key="exp_resume", on_click=requested, args=("resume",))
    cells = run.cells(user_id=current_user())  # read once: the summary, grid and ratings derive from it
    variants = [variant.name for variant in run.settings.variants]
    summary = summary_frame(cells, run.pairwise_wins())
    st.dataframe(summary, hide_index=True, width="stretch", placeholder="", column_config=SUMMARY_HEADINGS)
    agreement = check_vote_agreement(cells)
    if agreement is not None:
        st.caption(f"Checks and votes agree on {agreement:.0%} of the cells that have both.")
    grid = results_grid(cells)
    st.dataframe(side_by_side(grid, variants), hide_index=True, width="stretch", placeholder="")
    rating_section(run, cells)
    pairwise_section(run, variants)
    csv_column, jsonl_column, _ = st.columns([1, 1, 3])
    csv_column.download_button("Download CSV", results_csv(grid), f"experiment-{run.id[:8]}.csv", "text/csv",
                               key="exp_csv")  # fmt: skip
    jsonl_column.download_button("Download JSONL", cells_jsonl(cells), f"experiment-{run.id[:8]}.jsonl",
                                 "application/jsonl", key="exp_jsonl")  # fmt: skip
    compare_section(client, run, labels)


def rating_section(run: ExperimentRun, cells: pd.DataFrame) -> None:
    st.markdown("**Rate each cell**")
    rating_grid(
        f"exp_{run.id}",
        rating_table(cells),
        columns={
            "row": st.column_config.NumberColumn("Row", width=50),
            "item": st.column_config.NumberColumn("Item", width=50),
            "variant": st.column_config.TextColumn("Variant", width=80),
            "input": st.column_config.TextColumn("Input", width=150),
            "answer": st.column_config.TextColumn("Answer", width=260),
            "check": st.column_config.TextColumn("Check", width="small"),
        },
    )


def pairwise_section(run: ExperimentRun, variants: list[str]) -> None:
    if len(variants) < 2:
        return
    st.markdown("**Blind pairwise**: which answer is better? The variants are revealed after the verdict.")
    first_column, second_column, _ = st.columns([2, 2, 3])
    first = first_column.selectbox("Variant", variants, key="exp_pair_first")
    second_column.selectbox("Against", [name for name in variants if name != first], key="exp_pair_second")
    st.button("Next pair", key="exp_next_pair", on_click=requested, args=("pair",))
    pair = st.session_state.get(PAIR_KEY)
    if pair and pair["run"] == run.id:
        comparison = run.client.get_comparison(pair["comparison"])
        for side, column in zip(("a", "b"), st.columns(2), strict=True):
            column.markdown(f"**{side.upper()}**")
            column.markdown(escape_markdown(str(pair[f"answer_{side}"])))
        if comparison.winner is None:
            for column, (winner, label) in zip(st.columns(4), VERDICTS.items(), strict=True):
                column.button(
                    label,
                    key=f"exp_verdict_{winner}",
                    on_click=decide,
                    args=(run, pair["comparison"], winner),
                )
        else:
            st.caption(escape_markdown(f"A was {comparison.label_a}, B was {comparison.label_b}."))
    ratings = run.leaderboard(min_votes=1).ratings
    if len(ratings):
        st.dataframe(ratings_table(ratings), hide_index=True, width="stretch", placeholder="")


def next_pair(run: ExperimentRun) -> None:
    cells = run.cells()
    first, second = st.session_state.get("exp_pair_first"), st.session_state.get("exp_pair_second")
    decided = {int(item) for item in st.session_state.get(f"exp_pairs_done_{run.id}", [])}
    item = next_pair_item(cells, str(first), str(second), decided)
    if item is None:
        note("Every item of these two variants has a verdict.", "info")
        return
    comparison = pairwise_comparison(run, item, str(first), str(second))
    answers = {str(row.variant): row.answer for row in cells[cells["item"] == item].itertuples()}
    st.session_state[PAIR_KEY] = {
        "run": run.id,
        "comparison": comparison.id,
        "item": item,
        "answer_a": answers[comparison.label_a],
        "answer_b": answers[comparison.label_b],
    }
    st.session_state.setdefault(f"exp_pairs_done_{run.id}", []).append(item)


def decide(run: ExperimentRun, comparison_id: str, winner: str) -> None:
    record_preference(visitor_client(), comparison_id, winner)


def compare_section(client: Bilan, run: ExperimentRun, labels: dict[str, str]) -> None:
    others = [run_id for run_id in labels if run_id != run.id]
    if not others:
        return
    st.markdown("**Compare with another run** (cells matched by item and variant name)")
    other_id = st.selectbox("Earlier run", others, key="exp_compare", format_func=labels.get)
    comparison = compare_runs(get_experiment(client, other_id), run, user_id=current_user())
    st.caption(f"{len(comparison.flips)} cell(s) flipped: 👍↔👎 or a check passing in one run only.")
    st.dataframe(
        readable_flips(comparison.flips),
        hide_index=True,
        width="stretch",
        placeholder="",
        column_config=FLIP_HEADINGS,
    )
    st.dataframe(comparison.deltas, hide_index=True, width="stretch", placeholder="")


client = app_client()
st.title("Experiments")
offline_banner()
action = st.session_state.pop(PENDING_KEY, None)
if action == "dataset":
    create_dataset(client)
show_notice()
dataset = dataset_section(client)
variant_rows(client)
name_column, concurrency_column, _ = st.columns([3, 1, 2])
name_column.text_input("Experiment name (optional)", key="exp_name")
concurrency_column.number_input("Concurrency", 1, MAX_CONCURRENCY, 8, key="exp_concurrency")
st.button("Run experiment", key="exp_start", type="primary", on_click=requested, args=("start",))
if action == "start":
    started = start_from_form(client, dataset)
    if started:
        run_with_progress(started)
elif action == "resume" and st.session_state.get(RUN_KEY):
    run_with_progress(st.session_state[RUN_KEY])
elif action == "pair" and st.session_state.get(RUN_KEY):
    try:
        next_pair(get_experiment(visitor_client(), st.session_state[RUN_KEY]))
    except (BilanError, ValueError) as exc:
        note(f"No pair: {exc}")
    show_notice()
results_section(client)
