"""One Playground rerun with conversations of 2, 200 and 2,000 messages: wall time and DB queries per rerun.

The real app (``app.py`` → ``pages/playground.py``) runs in Streamlit's AppTest on a SQLite file, with the
offline demo model (no network). Conversations of one user (question/answer turns, every other answer
voted, every fourth commented) are opened through their ``?c=`` link; a long one is drawn from its newest
20 turns, earlier ones load on demand. Each is rerun ``--reruns`` times after a warm-up; the median rerun
time and the SQL statements each rerun sends (counted with a SQLAlchemy ``before_cursor_execute``
listener) are printed side by side. The query count must not grow with the conversation.

Note: every AppTest run starts in Streamlit's legacy ``pages/`` mode, so it runs the page file once, reroutes
through ``app.py`` and runs again (a live server does this only on its first run); the times include that.

Run: ``python3 -m bench.playground`` (from the repository root). Target: median < 100 ms
at any length, and as many queries per rerun as the short conversation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, event

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
USER = "bench-user"
TARGET_MS = 100.0


def seed_conversation(engine: Engine, *, turns: int, title: str) -> str:
    """A conversation of ``turns`` answered turns (2 messages each), with votes and comments; its id."""
    from bilan_core.store.conversations import start_conversation
    from bilan_core.store.models import Turn
    from bilan_core.store.turns import record_turn
    from bilan_core.store.votes import cast_vote

    conversation_id = start_conversation(engine, user_id=USER, title=title).conversation_id
    base_ms = int(time.time() * 1000) - turns * 1000
    for index in range(turns):
        prompt_id = str(uuid.uuid4())
        record_turn(
            engine,
            Turn(
                prompt_id=prompt_id,
                user_id=USER,
                model="bilan-demo",
                conversation_id=conversation_id,
                prompt_text=f"Question {index}: how would you explain feedback loops to a new teammate?",
                response=f"Answer {index}: " + "Each rating makes the next answer a little better. " * 6,
                status="ok",
                prompt_tokens=40 + index,
                completion_tokens=80,
                latency_ms=900.0,
                ttft_ms=120.0,
                created_ms=base_ms + index * 1000,
            ),
        )
        if index % 2 == 0:
            comment = f"comment {index}" if index % 4 == 0 else None
            value = 1 if index % 3 else -1
            cast_vote(engine, prompt_id=prompt_id, user_id=USER, value=value, comment=comment)
    return conversation_id


class QueryCounter:
    """Counts the SQL statements an engine sends, and remembers what the last ones read."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, connection: object, cursor: object, statement: str, *rest: object) -> None:
        self.statements.append(summary(statement))


def summary(statement: str) -> str:
    """``SELECT … FROM table [JOIN table]`` for a statement, to show what a rerun reads."""
    words = statement.split()
    tables = [words[i + 1] for i, word in enumerate(words[:-1]) if word.upper() in ("FROM", "JOIN")]
    return f"{words[0].upper()} {' + '.join(dict.fromkeys(tables))}"


def measure(
    conversation_id: str, counter: QueryCounter, *, reruns: int, warmup: int
) -> tuple[float, int, int, list[str]]:
    """Median rerun time (ms), queries per rerun (max), chat messages shown, the last rerun's statements."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["c"] = conversation_id
    at.query_params["user"] = USER
    at.run()
    if at.exception:
        raise SystemExit(f"the Playground failed: {[e.value for e in at.exception]}")
    times, queries = [], []
    for attempt in range(warmup + reruns):
        counter.statements.clear()
        start = time.perf_counter()
        at.run()
        elapsed = (time.perf_counter() - start) * 1000
        if attempt >= warmup:
            times.append(elapsed)
            queries.append(len(counter.statements))
    return statistics.median(times), max(queries), len(at.chat_message), list(counter.statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--messages", default="2,200,2000", help="conversation lengths in messages (even)")
    args = parser.parse_args()
    lengths = [int(value) for value in args.messages.split(",")]

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        os.environ.update(
            BILAN_DATABASE_URL=url,
            BILAN_DATA_DIR=str(Path(folder) / "data"),
            BILAN_TELEMETRY="false",
            BILAN_DEMO_STREAM_DELAY="0",
        )
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "BILAN_APP_PASSWORD", "BILAN_MODE"):
            os.environ.pop(name, None)
        os.chdir(REPO)

        from bilan_core.store.engine import get_engine

        engine = get_engine(url)
        ids = [seed_conversation(engine, turns=length // 2, title=f"{length}") for length in lengths]
        counter = QueryCounter(engine)
        rows = []
        for length, conversation_id in zip(lengths, ids, strict=True):
            figures = measure(conversation_id, counter, reruns=args.reruns, warmup=args.warmup)
            rows.append((f"{length:,} messages", *figures))

    print(f"Playground rerun, median of {args.reruns} (after {args.warmup} warm-up), SQLite, demo model")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'conversation':<16}{'median ms':>11}{'queries/rerun':>15}{'chat messages shown':>22}")
    for label, median_ms, queries, shown, _ in rows:
        print(f"{label:<16}{median_ms:>11.1f}{queries:>15}{shown:>22}")
    for shorter, longer in itertools.pairwise(rows):
        ratio = longer[1] / shorter[1]
        print(f"{longer[0]} vs {shorter[0]}: time ratio {ratio:.2f}x; queries {longer[2]} vs {shorter[2]}")
    print(f"statements of one rerun ({rows[-1][0]}): {'; '.join(rows[-1][4])}")
    last_ms = rows[-1][1]
    verdict = "met" if last_ms < TARGET_MS else f"NOT met on this machine now ({last_ms:.0f} ms)"
    print(f"target (< {TARGET_MS:.0f} ms at any length): {verdict}")


if __name__ == "__main__":
    main()
