"""Batch runs: many prompts through the tracked async chat with bounded concurrency, resumable.

Experiment runs are batch runs too (``call_plan`` asks each of their cells as the cell says), so both
share this runner: its concurrency, the SDK's ``Retry-After`` handling and resuming.

A run and its items are stored through the client (``bilan_core.store.batch_runs`` holds their SQL),
in the local database or on a Bilan server alike, all at once before the first call. Each item is
marked done (with its turn or its error) as soon as it finishes; resuming a run asks only the items
still pending. An item whose call was in flight when the process died is asked again on resume (its
answer never reached the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bilan_core.analytics.csv_cells import frame_csv
from bilan_core.chat.routing import resolve_model
from bilan_core.clock import now_ms, to_datetime
from bilan_core.errors import BilanError, ConfigurationError, ProviderError
from bilan_core.experiments.batch_files import BatchPrompt, parse_batch_file, read_batch_path
from bilan_core.experiments.cells import CallPlan, experiment_plan
from bilan_core.store.batch_runs import (
    COMPLETED,
    EXPERIMENT,
    INTERRUPTED,
    OK,
    PENDING,
    RUNNING,
    BatchOptions,
    BatchResult,
    NewBatchItem,
)
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchItem, BatchRun

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

RESULT_COLUMNS = list(BatchResult.model_fields)


@dataclass(frozen=True)
class BatchProgress:
    """How far a run is, for progress bars."""

    total: int
    succeeded: int
    failed: int
    elapsed_s: float
    done_this_session: int

    @property
    def done(self) -> int:
        """Items finished, successfully or not."""
        return self.succeeded + self.failed

    @property
    def fraction(self) -> float:
        """Share of the items finished, from 0 to 1."""
        return self.done / self.total if self.total else 1.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated time left at this session's pace; None before the first item finishes."""
        if not self.done_this_session:
            return None
        return (self.total - self.done) * self.elapsed_s / self.done_this_session

    def describe(self) -> str:
        """One line such as ``37/200 done (35 ok, 2 failed) · about 12 s left``."""
        line = f"{self.done}/{self.total} done ({self.succeeded} ok, {self.failed} failed)"
        left = self.seconds_left
        if left is not None and self.done < self.total:
            line += f" · about {left:.0f} s left"
        return line


ProgressCallback = Callable[[BatchProgress], None]


def batch_results(client: Bilan, run_id: str, *, user_id: str | None = None) -> pd.DataFrame:
    """One row per item: prompt, answer or error, figures, metadata and the user's vote (the client's)."""
    rows = client.batch_results(run_id, user_id=user_id)
    return pd.DataFrame([row.model_dump() for row in rows], columns=RESULT_COLUMNS)


# A run marked running with no item finished for this long is not being answered any more.
STALE_AFTER_MS = 120_000
RUN_STATES = {PENDING: "not started", COMPLETED: "completed", INTERRUPTED: "stopped"}


def run_state(run: BatchRun, *, now: int | None = None) -> str:
    """In words, what a run is doing: ``not started``, ``running``, ``stopped`` (resumable) or ``completed``.

    A run still marked running whose last item finished over two minutes ago was cut off (a closed tab,
    a crash) and reads as stopped.
    """
    if run.status != RUNNING:
        return RUN_STATES.get(run.status, run.status)
    idle = (now_ms() if now is None else now) - run.updated_ms
    return "stopped" if idle > STALE_AFTER_MS else "running"


def describe_run(run: BatchRun, *, now: int | None = None) -> str:
    """One line naming a run for pickers: file, progress, state and start time."""
    started = to_datetime(run.created_ms).strftime("%Y-%m-%d %H:%M UTC")
    done = run.succeeded + run.failed
    return f"{run.file_name} · {done}/{run.total} done · {run_state(run, now=now)} · {started} · {run.id[:8]}"


def metadata_columns(results: pd.DataFrame) -> pd.DataFrame:
    """The items' metadata spread into one ``meta.<field>`` column per field (rows aligned with results)."""
    spread = pd.json_normalize(results["metadata"].map(lambda value: value or {}).tolist())
    return spread.add_prefix("meta.").set_index(results.index) if len(spread.columns) else spread


def results_csv(frame: pd.DataFrame) -> bytes:
    """The results as UTF-8 CSV, as the grid numbers and shows them: ``row`` from 1, votes as 1/-1,
    latency in whole milliseconds, metadata spread into ``meta.<field>`` columns."""
    frame = frame.reset_index(drop=True)
    table = frame.drop(columns=["metadata", "position"]).assign(
        vote=frame["vote"].astype("Int64"),
        latency_ms=frame["latency_ms"].astype("Float64").round().astype("Int64"),
    )
    table.insert(0, "row", frame["position"] + 1)
    return frame_csv(pd.concat([table, metadata_columns(frame)], axis=1))


def results_finetune_jsonl(results: pd.DataFrame, options: BatchOptions) -> bytes:
    """OpenAI chat fine-tuning JSONL from the 👍 rows: the messages the run sent, then the answer."""
    liked = results[(results["vote"] == 1) & (results["status"] == OK) & results["response"].notna()]
    lines = (
        json.dumps(
            {"messages": [*options.messages(prompt), {"role": "assistant", "content": response}]},
            ensure_ascii=False,
        )
        + "\n"
        for prompt, response in zip(liked["prompt"], liked["response"], strict=True)
    )
    return "".join(lines).encode("utf-8")


def start_batch(
    client: Bilan, *, file_name: str, data: bytes | None = None, options: BatchOptions
) -> BatchRun:
    """Check a file (given bytes, or read from ``file_name``) and the options, then store the run."""
    max_bytes = client.settings.batch_max_file_bytes
    if data is None:
        prompts = read_batch_path(file_name, max_bytes=max_bytes)
    else:
        prompts = parse_batch_file(file_name, data, max_bytes=max_bytes)
    check_model(client, options.model)
    return client.create_batch_run(
        file_name=Path(file_name).name, items=[_new_item(prompt) for prompt in prompts], options=options
    )


def _new_item(prompt: BatchPrompt) -> NewBatchItem:
    return NewBatchItem(prompt=prompt.prompt, metadata=prompt.metadata)


def check_model(client: Bilan, model: str) -> None:
    """Refuse a model the endpoint does not list (ConfigurationError naming the ones it offers)."""
    offered = client.list_models(chat_only=False)  # a typed id need not be one the picker lists
    if offered and model not in offered:
        raise ConfigurationError(f"unknown model {model!r}; the endpoint offers: {', '.join(offered)}")


async def run_batch_async(
    client: Bilan,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> BatchRun:
    """Answer the run's pending items, at most ``concurrency`` at a time; returns the updated run."""
    run = await asyncio.to_thread(client.get_batch_run, run_id)
    plan, concurrency = call_plan(run)
    items = await asyncio.to_thread(client.pending_batch_items, run_id)
    tracker = _ProgressTracker(run, on_progress)
    semaphore = asyncio.Semaphore(concurrency)
    await asyncio.to_thread(client.set_batch_status, run_id, RUNNING)

    async def answer(item: BatchItem) -> None:
        async with semaphore:
            if stop is not None and stop.is_set():
                return
            prompt_id, error = await _ask(client, plan, item)
            await asyncio.to_thread(
                client.finish_batch_item, run_id, position=item.position, prompt_id=prompt_id, error=error
            )
            tracker.finished(ok=error is None)

    try:
        await asyncio.gather(*(answer(item) for item in items))
    except BaseException:
        await asyncio.shield(asyncio.to_thread(client.set_batch_status, run_id, INTERRUPTED))
        raise
    return await asyncio.to_thread(_settle_run, client, run_id)


def _settle_run(client: Bilan, run_id: str) -> BatchRun:
    """Mark a run completed when every item is done, else interrupted; the run as stored then."""
    final = client.get_batch_run(run_id)
    client.set_batch_status(
        run_id, COMPLETED if final.succeeded + final.failed >= final.total else INTERRUPTED
    )
    return client.get_batch_run(run_id)


def call_plan(run: BatchRun) -> tuple[CallPlan, int]:
    """How each item of a run is asked (a batch's options, or an experiment's cells) and how many at once."""
    if run.kind == EXPERIMENT:
        return experiment_plan(ExperimentSettings.model_validate(run.settings or {}))
    options = BatchOptions(**(run.settings or {}))

    def batch_call(item: BatchItem) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        asked = {
            "model": options.model,
            "temperature": options.temperature,
            "max_tokens": options.max_tokens,
        }
        return options.messages(item.prompt), asked

    return batch_call, options.concurrency


async def _ask(client: Bilan, plan: CallPlan, item: BatchItem) -> tuple[str | None, str | None]:
    try:
        messages, options = plan(item)
        response = await client.acreate_chat_completion(messages, **options)
    except ProviderError as exc:
        return exc.prompt_id, f"{exc.error_type}: {exc.message}"
    except (BilanError, ValueError) as exc:
        return None, str(exc)
    return response.prompt_id, None


class _ProgressTracker:
    """Counts finished items and reports progress."""

    def __init__(self, run: BatchRun, on_progress: ProgressCallback | None) -> None:
        self.total, self.succeeded, self.failed = run.total, run.succeeded, run.failed
        self.started = time.perf_counter()
        self.this_session = 0
        self.on_progress = on_progress
        self.report()

    def finished(self, *, ok: bool) -> None:
        if ok:
            self.succeeded += 1
        else:
            self.failed += 1
        self.this_session += 1
        self.report()

    def report(self) -> None:
        if self.on_progress is not None:
            elapsed = time.perf_counter() - self.started
            progress = BatchProgress(self.total, self.succeeded, self.failed, elapsed, self.this_session)
            self.on_progress(progress)


def run_batch(
    client: Bilan,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> BatchRun:
    """The blocking form of ``run_batch_async`` (not for use inside a running event loop)."""
    return asyncio.run(_run_then_close_connections(client, run_id, on_progress, stop))


async def _run_then_close_connections(
    client: Bilan, run_id: str, on_progress: ProgressCallback | None, stop: threading.Event | None
) -> BatchRun:
    try:
        return await run_batch_async(client, run_id, on_progress=on_progress, stop=stop)
    finally:
        # asyncio.run closes its loop on return: close this loop's HTTP connections while it still runs.
        await client._chat_clients().for_running_loop().close()


def add_batch_command(commands: argparse._SubParsersAction) -> None:
    """``batch FILE --model M``: run a file of prompts; ``batch --resume RUN_ID``: finish a run."""
    parser = commands.add_parser("batch", help="run a CSV/TXT/JSONL file of prompts through a model")
    parser.add_argument("file", nargs="?", help="CSV with a 'prompt' column, TXT (one a line) or JSONL")
    parser.add_argument("--model", help="model to ask (default: the configured default model)")
    parser.add_argument("--concurrency", type=int, help="calls at once (default: BILAN_BATCH_CONCURRENCY, 8)")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--system", help="system prompt for every item")
    parser.add_argument("--resume", metavar="RUN_ID", help="finish the pending items of an earlier run")
    parser.set_defaults(run=_run_batch_command)


def _run_batch_command(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan

    client = Bilan()
    if args.resume:
        if args.file:
            raise ValueError("give either a FILE or --resume RUN_ID, not both")
        run = client.get_batch_run(args.resume)
    elif args.file:
        options = BatchOptions(
            model=resolve_model(args.model, client.settings).model,
            concurrency=client.settings.batch_concurrency if args.concurrency is None else args.concurrency,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            system_prompt=args.system,
        )
        run = start_batch(client, file_name=args.file, options=options)
    else:
        raise ValueError("give a FILE of prompts, or --resume RUN_ID")
    print(f"batch run {run.id}: {run.total} prompts from {run.file_name}", file=sys.stderr)
    try:
        final = run_batch(client, run.id, on_progress=_print_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; resume with: python -m bilan_core batch --resume {run.id}", file=sys.stderr)
        return 130
    finally:
        client.close()
    print(file=sys.stderr)
    print(f"run {final.id} {final.status}: {final.succeeded} ok, {final.failed} failed of {final.total}")
    return 0 if final.failed == 0 else 1


def _print_progress(progress: BatchProgress) -> None:
    print(f"\r{progress.describe():<70}", end="", file=sys.stderr, flush=True)
