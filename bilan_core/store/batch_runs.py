"""Batch runs' reads and writes (``batch_runs`` and ``batch_items``), each scoped to a project.

A run and all of its items are stored in one transaction, so a bad file or setting leaves nothing
behind. An item is marked done (with its turn or its error) once; the run counts it at the same time.
Items have no project of their own: every item read or write first finds its run in the project.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms
from bilan_core.limits import MAX_PROMPT_LENGTH, check_label, check_storable
from bilan_core.store.engine import session_scope
from bilan_core.store.models import BatchItem, BatchRun, Turn, Vote
from bilan_core.store.project_rows import project_row

MAX_CONCURRENCY = 256
MAX_FILE_NAME_LENGTH = 400
PENDING, OK, FAILED = "pending", "ok", "failed"
RUNNING, COMPLETED, INTERRUPTED = "running", "completed", "interrupted"
RUN_STATUSES = (PENDING, RUNNING, COMPLETED, INTERRUPTED)
BATCH, EXPERIMENT = "batch", "experiment"


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """How every prompt of a run is asked (stored as the run's ``settings``)."""

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
        if self.temperature is not None and (
            isinstance(self.temperature, bool)
            or not isinstance(self.temperature, int | float)
            or not 0.0 <= self.temperature <= 2.0
        ):
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")
        if self.max_tokens is not None and (type(self.max_tokens) is not int or self.max_tokens < 1):
            raise ValueError(f"max_tokens must be a whole number of at least 1, got {self.max_tokens!r}")
        check_storable("the model or the system prompt", [self.model, self.system_prompt])

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages for one prompt."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]

    def as_settings(self) -> dict[str, Any]:
        """The options as stored in the run's ``settings``."""
        return asdict(self)


class NewBatchItem(BaseModel):
    """One prompt to store in a new run, with the other fields of its line in the file."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    metadata: dict[str, Any] = {}


class BatchResult(BaseModel):
    """One item of a run as the results table shows it: its answer or error, figures and one user's vote."""

    position: int
    prompt: str
    status: str
    response: str | None = None
    error: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_id: str | None = None
    vote: int | None = None
    comment: str | None = None
    metadata: dict[str, Any] | None = None


def _checked_items(items: Sequence[NewBatchItem]) -> list[NewBatchItem]:
    if not items:
        raise ValueError("a batch run needs at least one prompt")
    for number, item in enumerate(items, start=1):
        if not item.prompt.strip() or len(item.prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(
                f"prompt {number} must be non-empty text of at most {MAX_PROMPT_LENGTH:,} characters"
            )
        check_storable(f"prompt {number} or its metadata", [item.prompt, item.metadata])
    return list(items)


def create_batch_run(
    engine: Engine,
    *,
    project_id: int,
    user_id: str,
    file_name: str,
    items: Sequence[NewBatchItem],
    options: BatchOptions,
) -> BatchRun:
    """Store a run and all of its pending items in one transaction."""
    return store_run(
        engine,
        project_id=project_id,
        user_id=user_id,
        label=file_name,
        items=items,
        settings=options.as_settings(),
        kind=BATCH,
    )


def store_run(
    engine: Engine,
    *,
    project_id: int,
    user_id: str,
    label: str,
    items: Sequence[NewBatchItem],
    settings: dict[str, Any],
    kind: str,
) -> BatchRun:
    """Store a run of ``kind`` (its file or experiment name as ``label``) and its items in one transaction."""
    checked = _checked_items(items)
    moment = now_ms()
    run = BatchRun(
        id=uuid.uuid4().hex,
        project_id=project_id,
        user_id=user_id,
        file_name=check_label("file_name", label, limit=10_000)[:MAX_FILE_NAME_LENGTH],
        kind=kind,
        settings=settings,
        status=PENDING,
        total=len(checked),
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
            for position, item in enumerate(checked)
        )
    return run


def get_batch_run(engine: Engine, *, project_id: int, run_id: str) -> BatchRun:
    """One run of the project; NotFoundError if it has none with that id."""
    with Session(engine) as session:
        return project_row(session, BatchRun, project_id, run_id)


def pending_items(engine: Engine, *, project_id: int, run_id: str) -> list[BatchItem]:
    """The items of a run not yet finished, in file order."""
    with Session(engine) as session:
        project_row(session, BatchRun, project_id, run_id)
        return list(
            session.exec(
                select(BatchItem)
                .where(BatchItem.run_id == run_id, BatchItem.status == PENDING)
                .order_by(col(BatchItem.position))
            ).all()
        )


def finish_item(
    engine: Engine, *, project_id: int, run_id: str, position: int, prompt_id: str | None, error: str | None
) -> bool:
    """Mark a pending item done and count it on its run; False if it was already done (or is unknown)."""
    status = FAILED if error is not None else OK
    moment = now_ms()
    with session_scope(engine) as session:
        project_row(session, BatchRun, project_id, run_id)
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


def set_run_status(engine: Engine, *, project_id: int, run_id: str, status: str) -> None:
    """Set a run's status (``pending``, ``running``, ``completed``, ``interrupted``)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"a run's status is one of {', '.join(RUN_STATUSES)}, got {status!r}")
    with session_scope(engine) as session:
        project_row(session, BatchRun, project_id, run_id)
        session.exec(
            update(BatchRun).where(col(BatchRun.id) == run_id).values(status=status, updated_ms=now_ms())
        )


def unfinished_runs(
    engine: Engine, *, project_id: int, user_id: str | None = None, kind: str = BATCH
) -> list[BatchRun]:
    """Runs of ``kind`` with items still pending, newest first: the ones that can be resumed."""
    statement = select(BatchRun).where(
        col(BatchRun.project_id) == project_id,
        col(BatchRun.kind) == kind,
        col(BatchRun.succeeded) + col(BatchRun.failed) < col(BatchRun.total),
    )
    if user_id is not None:
        statement = statement.where(col(BatchRun.user_id) == user_id)
    with Session(engine) as session:
        return list(session.exec(statement.order_by(col(BatchRun.created_ms).desc())).all())


def recent_runs(engine: Engine, *, project_id: int, limit: int = 20, kind: str = BATCH) -> list[BatchRun]:
    """The project's newest runs of ``kind`` (batch runs unless told)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(BatchRun)
                .where(col(BatchRun.project_id) == project_id, col(BatchRun.kind) == kind)
                .order_by(col(BatchRun.created_ms).desc())
                .limit(limit)
            ).all()
        )


def batch_results(engine: Engine, *, project_id: int, run_id: str, user_id: str) -> list[BatchResult]:
    """One row per item, in file order: prompt, answer or error, figures, metadata and ``user_id``'s vote."""
    answer_of_item = and_(col(Turn.project_id) == project_id, col(Turn.prompt_id) == col(BatchItem.prompt_id))
    vote_of_user = and_(
        col(Vote.project_id) == col(Turn.project_id),
        col(Vote.prompt_id) == col(Turn.prompt_id),
        col(Vote.user_id) == user_id,
    )
    columns: list[Any] = [
        col(BatchItem.position),
        col(BatchItem.prompt),
        col(BatchItem.status),
        col(Turn.response),
        col(BatchItem.error),
        col(Turn.model),
        col(Turn.latency_ms),
        col(Turn.prompt_tokens),
        col(Turn.completion_tokens),
        col(BatchItem.prompt_id),
        col(Vote.value),
        col(Vote.comment),
        col(BatchItem.item_metadata),
    ]
    statement = (
        select_columns(*columns)
        .select_from(BatchItem)
        .outerjoin(Turn, answer_of_item)
        .outerjoin(Vote, vote_of_user)
        .where(col(BatchItem.run_id) == run_id)
        .order_by(col(BatchItem.position))
    )
    get_batch_run(engine, project_id=project_id, run_id=run_id)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [BatchResult(**dict(zip(BatchResult.model_fields, row, strict=True))) for row in rows]
