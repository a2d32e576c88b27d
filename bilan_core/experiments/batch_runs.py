"""Batch runs: many prompts through the tracked async chat with bounded concurrency, resumable.

A run and all of its items are stored in one transaction before the first call, so a bad file or
setting leaves nothing behind. Each item is marked done (with its turn or its error) as soon as it
finishes; resuming a run asks only the items still pending. An item whose call was in flight when
the process died is asked again on resume (its answer never reached the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine, and_, update
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms, to_datetime
from bilan_core.errors import BilanError, ConfigurationError, NotFoundError, ProviderError
from bilan_core.experiments.batch_files import BatchFileError, BatchPrompt, parse_batch_file, read_batch_path
from bilan_core.store.engine import session_scope
from bilan_core.store.models import LOCAL_PROJECT, BatchItem, BatchRun, Turn, Vote

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

MAX_CONCURRENCY = 256
PENDING, OK, FAILED = "pending", "ok", "failed"
RUNNING, COMPLETED, INTERRUPTED = "running", "completed", "interrupted"


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """How every prompt of a run is asked."""

    model: str
    concurrency: int = 8
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("a batch run needs a model name")
        if type(self.concurrency) is not int or not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(
                f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, got {self.concurrency!r}"
            )
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")
        if self.max_tokens is not None and (type(self.max_tokens) is not int or self.max_tokens < 1):
            raise ValueError(f"max_tokens must be a whole number of at least 1, got {self.max_tokens!r}")

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages for one prompt."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]


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


def create_batch_run(
    engine: Engine,
    *,
    user_id: str,
    file_name: str,
    prompts: Sequence[BatchPrompt],
    options: BatchOptions,
    project_id: int = LOCAL_PROJECT,
) -> BatchRun:
    """Store a run and all of its pending items in one transaction."""
    if not prompts:
        raise BatchFileError(f"{file_name} has no prompts")
    moment = now_ms()
    run = BatchRun(
        id=uuid.uuid4().hex,
        project_id=project_id,
        user_id=user_id,
        file_name=file_name[:400],
        settings=asdict(options),
        status=PENDING,
        total=len(prompts),
        created_ms=moment,
        updated_ms=moment,
    )
    with session_scope(engine) as session:
        session.add(run)
        session.flush()
        session.add_all(
            BatchItem(
                run_id=run.id,
                position=position,
                prompt=item.prompt,
                item_metadata=item.metadata or None,
                updated_ms=moment,
            )
            for position, item in enumerate(prompts)
        )
    return run


def get_batch_run(engine: Engine, *, run_id: str) -> BatchRun:
    """One run; NotFoundError if none has that id."""
    with Session(engine) as session:
        run = session.get(BatchRun, run_id)
    if run is None:
        raise NotFoundError(f"no batch run has id {run_id!r}")
    return run


def pending_items(engine: Engine, *, run_id: str) -> list[BatchItem]:
    """The items of a run not yet finished, in file order."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(BatchItem)
                .where(BatchItem.run_id == run_id, BatchItem.status == PENDING)
                .order_by(col(BatchItem.position))
            ).all()
        )


def finish_item(
    engine: Engine, *, run_id: str, position: int, prompt_id: str | None, error: str | None = None
) -> bool:
    """Mark a pending item done and count it on its run; False if it was already done."""
    status = FAILED if error is not None else OK
    moment = now_ms()
    with session_scope(engine) as session:
        changed = session.exec(
            update(BatchItem)
            .where(
                and_(
                    col(BatchItem.run_id) == run_id,
                    col(BatchItem.position) == position,
                    col(BatchItem.status) == PENDING,
                )
            )
            .values(status=status, prompt_id=prompt_id, error=error, updated_ms=moment)
        ).rowcount
        if changed:
            counter = col(BatchRun.failed) if error is not None else col(BatchRun.succeeded)
            session.exec(
                update(BatchRun)
                .where(col(BatchRun.id) == run_id)
                .values({counter: counter + 1, col(BatchRun.updated_ms): moment})
            )
    return bool(changed)


def set_run_status(engine: Engine, *, run_id: str, status: str) -> None:
    """Set a run's status (``running``, ``completed``, ``interrupted``)."""
    with session_scope(engine) as session:
        session.exec(
            update(BatchRun).where(col(BatchRun.id) == run_id).values(status=status, updated_ms=now_ms())
        )


def unfinished_runs(
    engine: Engine, *, user_id: str | None = None, project_id: int = LOCAL_PROJECT
) -> list[BatchRun]:
    """Runs with items still pending, newest first: the ones that can be resumed."""
    statement = select(BatchRun).where(
        col(BatchRun.project_id) == project_id,
        col(BatchRun.succeeded) + col(BatchRun.failed) < col(BatchRun.total),
    )
    if user_id is not None:
        statement = statement.where(col(BatchRun.user_id) == user_id)
    with Session(engine) as session:
        return list(session.exec(statement.order_by(col(BatchRun.created_ms).desc())).all())


def recent_runs(engine: Engine, *, limit: int = 20, project_id: int = LOCAL_PROJECT) -> list[BatchRun]:
    """The newest runs."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(BatchRun)
                .where(col(BatchRun.project_id) == project_id)
                .order_by(col(BatchRun.created_ms).desc())
                .limit(limit)
            ).all()
        )


def batch_results(engine: Engine, *, run_id: str, user_id: str) -> pd.DataFrame:
    """One row per item: prompt, answer or error, figures, metadata and ``user_id``'s vote."""
    vote_of_user = and_(
        col(Vote.project_id) == col(Turn.project_id),
        col(Vote.prompt_id) == col(Turn.prompt_id),
        col(Vote.user_id) == user_id,
    )
    statement = (
        select(
            BatchItem.position,
            BatchItem.prompt,
            BatchItem.status,
            Turn.response,
            BatchItem.error,
            Turn.model,
            Turn.latency_ms,
            Turn.prompt_tokens,
            Turn.completion_tokens,
            BatchItem.prompt_id,
            Vote.value,
            Vote.comment,
            BatchItem.item_metadata,
        )
        .select_from(BatchItem)
        .outerjoin(Turn, col(Turn.prompt_id) == col(BatchItem.prompt_id))
        .outerjoin(Vote, vote_of_user)
        .where(BatchItem.run_id == run_id)
        .order_by(col(BatchItem.position))
    )
    with Session(engine) as session:
        rows = session.exec(statement).all()
    columns = [
        "position", "prompt", "status", "response", "error", "model", "latency_ms",
        "prompt_tokens", "completion_tokens", "prompt_id", "vote", "comment", "metadata",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def describe_run(run: BatchRun) -> str:
    """One line naming a run for pickers: file, progress, status and start time."""
    started = to_datetime(run.created_ms).strftime("%Y-%m-%d %H:%M UTC")
    done = run.succeeded + run.failed
    return f"{run.file_name} · {done}/{run.total} done · {run.status} · {started} · {run.id[:8]}"


THUMBS = {1: "👍", -1: "👎"}


def rating_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results as the rating table shows them: rows numbered from 1 (as messages name them), the vote
    as 👍/👎 text, rating columns first."""
    table = results.drop(columns=["metadata"]).rename(columns={"position": "row"})
    table["row"] = results["position"] + 1
    thumbs = [THUMBS.get(int(value)) if pd.notna(value) else None for value in results["vote"]]
    table["vote"] = pd.Series(thumbs, index=table.index, dtype=object)
    first = ["row", "prompt", "response", "vote", "comment"]
    return table[[*first, *(column for column in table.columns if column not in first)]]


def apply_ratings(
    client: Bilan, results: pd.DataFrame, edited_rows: Mapping[int | str, Mapping[str, Any]]
) -> list[str]:
    """Store the 👍/👎 and comments edited in the rating table; returns one message per refused row.

    ``edited_rows`` maps a row number of ``results`` to the changed cells (``vote``: "👍", "👎" or
    None; ``comment``: text), the shape ``st.data_editor`` reports.
    """
    problems = []
    for row_key, changes in edited_rows.items():
        row = results.iloc[int(row_key)]
        try:
            _apply_rating(client, row, changes)
        except (BilanError, ValueError) as exc:
            problems.append(f"row {int(row['position']) + 1}: {exc}")
    return problems


def _apply_rating(client: Bilan, row: pd.Series, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - {"vote", "comment"}
    if unknown:
        raise ValueError(f"only the vote and the comment can be changed, not {', '.join(sorted(unknown))}")
    prompt_id = row["prompt_id"]
    if not isinstance(prompt_id, str) or not prompt_id:
        raise ValueError("this prompt has no answer yet; resume the run first")
    thumbs = changes.get("vote", THUMBS.get(int(row["vote"])) if pd.notna(row["vote"]) else None)
    comment = changes.get("comment", row["comment"] if isinstance(row["comment"], str) else None)
    if thumbs is None:
        if comment:
            raise ValueError("choose 👍 or 👎 to go with the comment")
        client.clear_vote(prompt_id)
        return
    values = {text: value for value, text in THUMBS.items()}
    if thumbs not in values:
        raise ValueError(f"a rating is 👍 or 👎, got {thumbs!r}")
    client.vote(prompt_id, values[thumbs], comment or None)


def results_csv(frame: pd.DataFrame) -> bytes:
    """The results table as UTF-8 CSV, metadata spread into ``meta.<field>`` columns."""
    spread = pd.json_normalize(frame["metadata"].map(lambda value: value or {}).tolist()).add_prefix("meta.")
    table = pd.concat([frame.drop(columns=["metadata"]).reset_index(drop=True), spread], axis=1)
    return table.to_csv(index=False).encode("utf-8")


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
    engine = _engine_of(client)
    max_bytes = client.settings.batch_max_file_bytes
    if data is None:
        prompts = read_batch_path(file_name, max_bytes=max_bytes)
    else:
        prompts = parse_batch_file(file_name, data, max_bytes=max_bytes)
    check_model(client, options.model)
    return create_batch_run(
        engine, user_id=client.user_id, file_name=Path(file_name).name, prompts=prompts, options=options
    )


def check_model(client: Bilan, model: str) -> None:
    """Refuse a model the endpoint does not list (ConfigurationError naming the ones it offers)."""
    offered = client.list_models()
    if offered and model not in offered:
        raise ConfigurationError(f"unknown model {model!r}; the endpoint offers: {', '.join(offered)}")


def _engine_of(client: Bilan) -> Engine:
    if client.engine is None:
        raise ConfigurationError("batch runs are stored in the local database; they need local mode")
    return client.engine


async def run_batch_async(
    client: Bilan,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> BatchRun:
    """Answer the run's pending items, at most ``concurrency`` at a time; returns the updated run."""
    engine = _engine_of(client)
    run = get_batch_run(engine, run_id=run_id)
    options = BatchOptions(**(run.settings or {}))
    items = await asyncio.to_thread(pending_items, engine, run_id=run_id)
    tracker = _ProgressTracker(run, on_progress)
    semaphore = asyncio.Semaphore(options.concurrency)
    await asyncio.to_thread(set_run_status, engine, run_id=run_id, status=RUNNING)

    async def answer(item: BatchItem) -> None:
        async with semaphore:
            if stop is not None and stop.is_set():
                return
            prompt_id, error = await _ask(client, options, item)
            await asyncio.to_thread(
                finish_item, engine, run_id=run_id, position=item.position, prompt_id=prompt_id, error=error
            )
            tracker.finished(ok=error is None)

    try:
        await asyncio.gather(*(answer(item) for item in items))
    except BaseException:
        await asyncio.shield(asyncio.to_thread(set_run_status, engine, run_id=run_id, status=INTERRUPTED))
        raise
    final = get_batch_run(engine, run_id=run_id)
    status = COMPLETED if final.succeeded + final.failed >= final.total else INTERRUPTED
    set_run_status(engine, run_id=run_id, status=status)
    return get_batch_run(engine, run_id=run_id)


async def _ask(client: Bilan, options: BatchOptions, item: BatchItem) -> tuple[str | None, str | None]:
    try:
        response = await client.acreate_chat_completion(
            options.messages(item.prompt),
            model=options.model,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
        )
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
        run = get_batch_run(_engine_of(client), run_id=args.resume)
    elif args.file:
        options = BatchOptions(
            model=args.model or client.settings.chat_model,
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
