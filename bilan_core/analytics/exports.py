"""Exports with the analytics filters: CSV of turns and votes, fine-tuning JSONL, DPO preference JSONL.

Rows are streamed from the database in chunks and written as they come, so an export of a
million turns never holds them all in memory. The CLI writes to a temporary file and renames it,
so a failed export never leaves a half-written file under the requested name.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, and_, func, select
from sqlmodel import col

from bilan_core.analytics.csv_cells import CsvWriter
from bilan_core.analytics.dashboard import AnalyticsFilter
from bilan_core.analytics.sql_parts import shown_text
from bilan_core.clock import MS_PER_DAY, now_ms, to_datetime
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.models import LOCAL_PROJECT, TURNS, VOTES, Comparison, Turn, Vote
from bilan_core.store.project_rows import project_id_named

CHUNK_ROWS = 2_000
EXPORT_KINDS = ("csv", "finetune", "dpo")
CSV_COLUMNS = [
    "prompt_id",
    "created",
    "created_ms",
    "user_id",
    "conversation_id",
    "team_session",
    "model",
    "provider",
    "prompt_version",
    "status",
    "error_type",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft_ms",
    "latency_ms",
    "prompt_text",
    "response",
    "vote_user_id",
    "vote_value",
    "vote_comment",
    "vote_created_ms",
]


def _stream(engine: Engine, statement: Any) -> Iterator[Any]:
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(statement)
        yield from result


def write_csv(engine: Engine, where: AnalyticsFilter, out: TextIO) -> int:
    """One CSV row per vote on each selected turn (a turn without votes gets one row); returns rows."""
    joined = TURNS.outerjoin(
        VOTES,
        and_(col(Vote.project_id) == col(Turn.project_id), col(Vote.prompt_id) == col(Turn.prompt_id)),
    )
    turn_columns = [getattr(Turn, name) for name in CSV_COLUMNS[:17] if name != "created"]
    statement = (
        select(
            *turn_columns,
            shown_text(col(Turn.prompt_text)),
            shown_text(col(Turn.response)),
            col(Vote.user_id).label("vote_user_id"),
            col(Vote.value).label("vote_value"),
            col(Vote.comment).label("vote_comment"),
            col(Vote.created_ms).label("vote_created_ms"),
        )
        .select_from(joined)
        .where(*where.conditions(Turn))
        .order_by(col(Turn.created_ms), col(Turn.id), col(Vote.id))
    )
    writer = CsvWriter(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    # The selected columns are CSV_COLUMNS without "created", which is derived from created_ms (index 1).
    for row in _stream(engine, statement):
        writer.writerow((row[0], to_datetime(row[1]).isoformat(), *row[1:]))
        written += 1
    return written


def _request_messages(messages: list[dict[str, Any]] | None, prompt_text: str | None) -> list[dict[str, Any]]:
    if messages:
        return [dict(message) for message in messages]
    return [{"role": "user", "content": prompt_text or ""}]


def _voted_turns(where: AnalyticsFilter) -> Any:
    net = (
        select(
            col(Vote.project_id).label("project_id"),
            col(Vote.prompt_id).label("prompt_id"),
            func.sum(col(Vote.value)).label("net"),
        )
        .where(col(Vote.project_id) == where.project_id)
        .group_by(col(Vote.project_id), col(Vote.prompt_id))
        .subquery()
    )
    return (
        select(col(Turn.prompt_id), col(Turn.messages), col(Turn.prompt_text), col(Turn.response), net.c.net)
        .join(net, and_(net.c.project_id == col(Turn.project_id), net.c.prompt_id == col(Turn.prompt_id)))
        .where(
            *where.conditions(Turn), col(Turn.status) == "ok", col(Turn.response).is_not(None), net.c.net != 0
        )
    )


def write_finetune(engine: Engine, where: AnalyticsFilter, out: TextIO) -> int:
    """OpenAI chat fine-tuning JSONL from 👍 turns: the request messages plus the answer; returns lines.

    An example (the same messages and answer) is written once, however many turns repeat it.
    """
    voted = _voted_turns(where)
    statement = voted.where(voted.selected_columns.net > 0).order_by(col(Turn.created_ms), col(Turn.id))
    written = 0
    seen: set[bytes] = set()  # digests, not the lines: a million examples stay a few tens of MB
    for row in _stream(engine, statement):
        messages = [
            *_request_messages(row.messages, row.prompt_text),
            {"role": "assistant", "content": row.response},
        ]
        line = json.dumps({"messages": messages}, ensure_ascii=False)
        digest = hashlib.blake2b(line.encode("utf-8"), digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        out.write(line + "\n")
        written += 1
    return written


def write_dpo(engine: Engine, where: AnalyticsFilter, out: TextIO) -> int:
    """OpenAI DPO JSONL: answers to the same request with opposite votes, plus decided comparisons."""
    written = 0
    for pair in _vote_pairs(engine, where):
        out.write(json.dumps(pair, ensure_ascii=False) + "\n")
        written += 1
    for pair in _comparison_pairs(engine, where):
        out.write(json.dumps(pair, ensure_ascii=False) + "\n")
        written += 1
    return written


def _dpo_line(messages: list[dict[str, Any]], preferred: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


def _vote_pairs(engine: Engine, where: AnalyticsFilter) -> Iterator[dict[str, Any]]:
    # Ordered by prompt text so turns asking the same thing arrive together; within a prompt text,
    # requests are told apart by their full messages. Each answer is used in at most one pair.
    statement = _voted_turns(where).order_by(col(Turn.prompt_text), col(Turn.created_ms), col(Turn.id))
    group_text: object = object()
    group: dict[str, _Request] = {}
    for row in _stream(engine, statement):
        if row.prompt_text != group_text:
            yield from _pairs_of(group)
            group_text, group = row.prompt_text, {}
        messages = _request_messages(row.messages, row.prompt_text)
        key = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        request = group.setdefault(key, _Request(messages))
        (request.good if row.net > 0 else request.bad).append(row.response)
    yield from _pairs_of(group)


@dataclass
class _Request:
    messages: list[dict[str, Any]]
    good: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def _pairs_of(group: dict[str, _Request]) -> Iterator[dict[str, Any]]:
    for request in group.values():
        unused_bad = list(request.bad)
        for preferred in request.good:
            rejected = next((answer for answer in unused_bad if answer != preferred), None)
            if rejected is None:
                break
            unused_bad.remove(rejected)
            yield _dpo_line(request.messages, preferred, rejected)


def _comparison_pairs(engine: Engine, where: AnalyticsFilter) -> Iterator[dict[str, Any]]:
    a_turn, b_turn = TURNS.alias("turn_a"), TURNS.alias("turn_b")
    # A comparison has two models, so the model and prompt-version filters do not apply to it.
    conditions = [*where.scope_conditions(Comparison), col(Comparison.winner).in_(("a", "b"))]
    statement = (
        select(
            col(Comparison.prompt),
            col(Comparison.winner),
            a_turn.c.messages,
            a_turn.c.response.label("answer_a"),
            b_turn.c.response.label("answer_b"),
            a_turn.c.model.label("model_a"),
            b_turn.c.model.label("model_b"),
        )
        .join(
            a_turn,
            and_(
                a_turn.c.project_id == col(Comparison.project_id),
                a_turn.c.prompt_id == col(Comparison.prompt_id_a),
            ),
        )
        .join(
            b_turn,
            and_(
                b_turn.c.project_id == col(Comparison.project_id),
                b_turn.c.prompt_id == col(Comparison.prompt_id_b),
            ),
        )
        .where(*conditions, a_turn.c.response.is_not(None), b_turn.c.response.is_not(None))
        .order_by(col(Comparison.created_ms), col(Comparison.id))
    )
    for row in _stream(engine, statement):
        if where.models and not {row.model_a, row.model_b} & set(where.models):
            continue
        preferred, rejected = (
            (row.answer_a, row.answer_b) if row.winner == "a" else (row.answer_b, row.answer_a)
        )
        if preferred != rejected:
            yield _dpo_line(_request_messages(row.messages, row.prompt), preferred, rejected)


WRITERS = {"csv": write_csv, "finetune": write_finetune, "dpo": write_dpo}
EXPORT_FILES = {
    "csv": ("bilan-turns.csv", "text/csv"),
    "finetune": ("bilan-finetune.jsonl", "application/jsonl"),
    "dpo": ("bilan-dpo.jsonl", "application/jsonl"),
}


def _writer(kind: str) -> Any:
    if kind not in WRITERS:
        raise ValueError(f"export kind must be one of {', '.join(EXPORT_KINDS)}, got {kind!r}")
    return WRITERS[kind]


def export_bytes(engine: Engine, kind: str, where: AnalyticsFilter) -> bytes:
    """An export as UTF-8 bytes, for a download (encoded as written: no second copy as text)."""
    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    _writer(kind)(engine, where, out)
    out.flush()
    out.detach()
    return buffer.getvalue()


def export_to_file(engine: Engine, kind: str, where: AnalyticsFilter, path: Path) -> int:
    """Write an export to ``path`` atomically (a temporary file renamed at the end); returns rows."""
    writer = _writer(kind)
    if path.is_dir():
        raise ValueError(f"--out must be a file path, but {path} is a folder")
    if not path.parent.exists():
        raise ValueError(f"--out folder {path.parent} does not exist")
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            written = writer(engine, where, out)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


def add_export_command(commands: argparse._SubParsersAction) -> None:
    """``export``: write turns as CSV, fine-tuning JSONL or DPO JSONL, with the analytics filters."""
    parser = commands.add_parser("export", help="export turns and votes (csv, finetune, dpo)")
    parser.add_argument(
        "--kind",
        required=True,
        choices=EXPORT_KINDS,
        help="csv: turns with their votes; finetune: OpenAI chat fine-tuning JSONL from 👍 answers; "
        "dpo: OpenAI DPO preference pairs JSONL",
    )
    parser.add_argument("--out", required=True, help="the file to write (replaced if it exists)")
    since = parser.add_mutually_exclusive_group()
    since.add_argument("--days", type=_positive_int, help="only the last N days")
    since.add_argument("--start-ms", type=int, help="from this time (epoch ms)")
    parser.add_argument("--end-ms", type=int, help="until this time (epoch ms, exclusive)")
    parser.add_argument("--model", action="append", default=[], help="a model (repeatable)")
    parser.add_argument("--user", action="append", default=[], help="a user id (repeatable)")
    parser.add_argument("--team-session", help="one team session")
    parser.add_argument("--prompt-version", action="append", default=[], help="a prompt version (repeatable)")
    parser.add_argument(
        "--project", help="a server project by name, on the server's database (default: local mode's data)"
    )
    parser.set_defaults(run=_run_export)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run_export(args: argparse.Namespace) -> int:
    engine = get_engine(load_settings().database_url)
    start = args.start_ms
    if args.days is not None:
        start = now_ms() - args.days * MS_PER_DAY
    where = AnalyticsFilter(
        start_ms=start,
        end_ms=args.end_ms,
        models=tuple(args.model),
        users=tuple(args.user),
        team_session=args.team_session,
        prompt_versions=tuple(args.prompt_version),
        project_id=project_id_named(engine, args.project) if args.project is not None else LOCAL_PROJECT,
    )
    written = export_to_file(engine, args.kind, where, Path(args.out))
    print(f"wrote {written:,} {'rows' if args.kind == 'csv' else 'lines'} to {args.out}")
    return 0
