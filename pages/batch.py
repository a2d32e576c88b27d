"""Batch: a file of prompts through one model with bounded concurrency; resume, rate each row, export."""

from __future__ import annotations

import streamlit as st

from bilan_core import Bilan, BilanError
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.rating_grid import batch_rating_table
from bilan_core.experiments.batch_files import FORMATS, batch_folder, files_to_pick, upload_limit_mb
from bilan_core.experiments.batch_runs import (
    BatchOptions,
    BatchProgress,
    batch_results,
    describe_run,
    results_csv,
    results_finetune_jsonl,
    run_batch,
    run_state,
    start_batch,
)
from bilan_core.store.batch_runs import MAX_CONCURRENCY
from bilan_core.store.models import BatchRun
from pages.model_choice import TYPE_ANY_MODEL, model_options
from pages.notices import PageNotices
from pages.rating_grid import rating_grid
from pages.shared import app_client, current_user, offline_banner, visitor_client

NOTICE_KEY = "batch_notice"
PENDING_KEY = "batch_pending"
UPLOAD_KEY = "batch_upload"
PICK_KEY = "batch_pick"
MODEL_KEY = "batch_model"
CONCURRENCY_KEY = "batch_concurrency"
TEMPERATURE_KEY = "batch_temperature"
SYSTEM_KEY = "batch_system_prompt"
RESUME_KEY = "batch_resume_run"
RESULTS_RUN_KEY = "batch_results_run"
RAN_UPLOAD_KEY = "batch_ran_upload"
# Widths in pixels: row, prompt, answer, rating and comment fill the 1440 px page; the rest scrolls.
RESULT_HEADINGS = {
    "row": st.column_config.NumberColumn("Row", width=50),
    "prompt": st.column_config.TextColumn("Prompt", width=200),
    "response": st.column_config.TextColumn("Answer", width=340),
    "status": st.column_config.TextColumn("Status", width="small"),
    "error": st.column_config.TextColumn("Error", width="medium"),
    "model": st.column_config.TextColumn("Model", width="small"),
    "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%.0f", width="small"),
    "prompt_tokens": st.column_config.NumberColumn("Prompt tokens", width="small"),
    "completion_tokens": st.column_config.NumberColumn("Completion tokens", width="small"),
}


notices = PageNotices(NOTICE_KEY, PENDING_KEY)
note, show_notice, requested = notices.note, notices.show, notices.request


def new_run_form(client: Bilan) -> None:
    st.subheader("New run")
    st.file_uploader(
        "Prompts file",
        type=[suffix.lstrip(".") for suffix in FORMATS],
        key=UPLOAD_KEY,
        max_upload_size=upload_limit_mb(client.settings.batch_max_file_bytes),
        help="CSV with a `prompt` column (other columns are kept as metadata), TXT with one prompt a line, "
        f"or JSONL objects with a `prompt`. Up to {client.settings.batch_max_file_bytes:,} bytes.",
    )
    already_ran_note()
    folder = batch_folder(client.settings)
    picks = [path.name for path in files_to_pick(folder)]
    if picks:
        st.selectbox(
            f"…or a file from {escape_markdown(str(folder))}",
            [None, *picks],
            key=PICK_KEY,
            format_func=lambda name: name or "—",
        )
    settings_column, prompt_column = st.columns(2)
    with settings_column:
        st.selectbox(
            "Model",
            model_options(),
            key=MODEL_KEY,
            accept_new_options=True,
            help=TYPE_ANY_MODEL,
            persist_state="session",
        )
        st.number_input(
            "Concurrency",
            min_value=1,
            max_value=MAX_CONCURRENCY,
            value=client.settings.batch_concurrency,
            key=CONCURRENCY_KEY,
            persist_state="session",
            help="How many prompts are asked at once.",
        )
        st.slider("Temperature", 0.0, 2.0, value=0.7, step=0.1, key=TEMPERATURE_KEY, persist_state="session")
    with prompt_column:
        st.text_area(
            "System prompt",
            key=SYSTEM_KEY,
            placeholder="You are a helpful assistant.",
            height=180,
            persist_state="session",
        )
    st.button("Start run", type="primary", key="batch_start", on_click=requested, args=("start",))


def upload_identity(upload: object) -> str:
    """What tells one uploaded file from another (the same file uploaded again is a new one)."""
    return str(getattr(upload, "file_id", "") or getattr(upload, "name", ""))


def already_ran_note() -> None:
    """Say so when the attached file already ran: Start run would ask every prompt again."""
    upload = st.session_state.get(UPLOAD_KEY)
    ran = st.session_state.get(RAN_UPLOAD_KEY)
    if upload is None or ran is None or ran[0] != upload_identity(upload):
        return
    st.info(
        escape_markdown(
            f"{upload.name} already ran (run {ran[1][:8]}, in the results below). Start run asks all its "
            "prompts again as a new run; remove the file to start from another one."
        ),
        icon=":material/info:",
    )


def start_from_form(client: Bilan) -> str | None:
    """Store a run from the form; a clear message and nothing stored when the input is bad."""
    state = st.session_state
    upload, picked = state.get(UPLOAD_KEY), state.get(PICK_KEY)
    try:
        options = BatchOptions(
            model=state[MODEL_KEY],
            concurrency=int(state[CONCURRENCY_KEY]),
            temperature=state[TEMPERATURE_KEY],
            system_prompt=system if (system := state.get(SYSTEM_KEY) or "").strip() else None,
        )
        if upload is not None:
            run = start_batch(client, file_name=upload.name, data=upload.getvalue(), options=options)
            state[RAN_UPLOAD_KEY] = (upload_identity(upload), run.id)
        elif picked:
            run = start_batch(client, file_name=str(batch_folder(client.settings) / picked), options=options)
        else:
            raise ValueError("choose a file of prompts first: upload one or pick one")
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(f"Nothing was started: {exc}"))
        return None
    return run.id


def run_with_progress(client: Bilan, run_id: str) -> None:
    """Answer the run's pending items with a progress bar; Stop (or a closed tab) leaves it resumable."""
    try:
        run = client.get_batch_run(run_id)
    except BilanError as exc:
        st.error(escape_markdown(f"The run cannot start: {exc}"))
        return
    st.caption(escape_markdown(f"Running {run.file_name}: {run.total} prompts (run {run.id[:8]})"))
    bar = st.progress(0.0, text="Starting…")
    st.button("⏹️ Stop", key="batch_stop", help="Stop here; done prompts are kept, the run can be resumed.")

    def show(progress: BatchProgress) -> None:
        bar.progress(progress.fraction, text=progress.describe())

    try:
        final = run_batch(client, run_id, on_progress=show)
    except (BilanError, ValueError) as exc:
        note(f"The run stopped: {exc}. Resume it below.")
    else:
        kind = "success" if final.failed == 0 else "warning"
        note(f"Run {final.status}: {final.succeeded} ok, {final.failed} failed of {final.total}.", kind)
    st.session_state[RESULTS_RUN_KEY] = run_id
    st.rerun()


def resume_section(client: Bilan) -> None:
    runs = client.unfinished_batch_runs()
    if not runs:
        return
    st.subheader("Unfinished runs")
    st.caption("A run stopped by a crash, a closed browser or Stop goes on from where it was.")
    labels = {run.id: describe_run(run) for run in runs}
    st.selectbox("Run to resume", list(labels), key=RESUME_KEY, format_func=labels.get)
    st.button("Resume", key="batch_resume", on_click=requested, args=("resume",))


def resume_requested(run_id: str) -> None:
    st.session_state[RESUME_KEY] = run_id
    requested("resume")


def offer_resume(run: BatchRun) -> None:
    """A stopped (or never started) run says so where its results are, with a button to go on."""
    state = run_state(run)
    if state not in ("stopped", "not started"):
        return
    left = run.total - run.succeeded - run.failed
    where = "has not started" if state == "not started" else f"stopped at {run.total - left}/{run.total} done"
    st.warning(
        f"This run {where}: Resume asks the {left} prompt(s) left, without asking again the ones done.",
        icon=":material/pause_circle:",
    )
    st.button("Resume this run", key="batch_resume_selected", on_click=resume_requested, args=(run.id,))


def results_section(client: Bilan) -> None:
    runs = client.recent_batch_runs(limit=50)
    st.subheader("Results")
    if not runs:
        st.caption("No batch run yet.")
        return
    labels = {run.id: describe_run(run) for run in runs}
    if st.session_state.get(RESULTS_RUN_KEY) not in labels:
        st.session_state[RESULTS_RUN_KEY] = runs[0].id
    run_id = st.selectbox("Run", list(labels), key=RESULTS_RUN_KEY, format_func=labels.get)
    run = next(run for run in runs if run.id == run_id)
    offer_resume(run)
    results = batch_results(client, run_id, user_id=current_user())
    rating_grid(
        f"batch_{run_id}",
        batch_rating_table(results),
        columns=RESULT_HEADINGS,
        metadata_help="From the file's other columns (CSV) or fields (JSONL); exported as meta.<name>.",
    )
    export_column, finetune_column, _ = st.columns([1, 2, 2])
    export_column.download_button(
        "Download CSV",
        data=results_csv(results),
        file_name=f"batch-{run_id[:8]}.csv",
        mime="text/csv",
        key="batch_download",
    )
    options = BatchOptions(**(run.settings or {}))
    finetune_column.download_button(
        "Fine-tuning JSONL (rows you rated 👍 good)",
        data=results_finetune_jsonl(results, options),
        file_name=f"batch-{run_id[:8]}-finetune.jsonl",
        mime="application/jsonl",
        key="batch_download_finetune",
    )
    st.caption("DPO preference pairs across runs and chats: the exports on the Analytics page.")


client = app_client()
st.title("Batch")
offline_banner()

show_notice()
new_run_form(client)
resume_section(client)
action = st.session_state.pop(PENDING_KEY, None)
if action == "start":
    started = start_from_form(client)
    if started:
        run_with_progress(visitor_client(), started)
elif action == "resume" and st.session_state.get(RESUME_KEY):
    run_with_progress(visitor_client(), st.session_state[RESUME_KEY])
results_section(client)
