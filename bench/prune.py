"""Retention at scale: ``prune`` in batches of 500 rows against one DELETE per table, while a user votes.

A child process seeds a SQLite file with ``demo-data`` (turns spread over the last 90 days, about one
vote per two turns); the file is copied, and on each copy data older than 45 days (about half) is
deleted, one way each, while a thread casts a vote every 10 ms on the same file and times each vote.
Printed side by side: the prune's total time, the longest single delete transaction (the longest the
database's write lock was held), and the votes' median and worst latency while it ran.

Run: ``python3 -m bench.prune [--turns 100000]`` (from the repository root; about a minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from bilan_core.clock import now_ms
from bilan_core.store.engine import dispose_engines, get_engine
from bilan_core.store.models import TURNS
from bilan_core.store.removal import PURGE_BATCH_ROWS, purge
from bilan_core.store.retention import _steps, cutoff_ms
from bilan_core.store.votes import cast_vote

ROOT = Path(__file__).resolve().parents[1]
DAYS = 45


def seed(path: Path, turns: int) -> None:
    """Fill a SQLite file with ``demo-data`` in a child process."""
    env = {**os.environ, "BILAN_DATABASE_URL": f"sqlite:///{path}", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "bilan_core", "demo-data", "--turns", str(turns), "--seed", "3"],
        env=env | {"BILAN_TELEMETRY": "off"},
        check=True,
        capture_output=True,
    )


class Voter(threading.Thread):
    """Casts a vote every 10 ms on recent turns until stopped, timing each."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.latencies: list[float] = []
        self.refused = 0  # votes that gave up waiting for the write lock (SQLite's 5 s busy timeout)
        self.stop = threading.Event()
        with engine.connect() as connection:
            recent = TURNS.c.created_ms > now_ms() - 10 * 86_400_000
            self.prompts = list(
                connection.execute(select(TURNS.c.prompt_id).where(recent).limit(500)).scalars()
            )

    def run(self) -> None:
        for index in range(10**9):
            if self.stop.wait(0.01):
                return
            prompt_id = self.prompts[index % len(self.prompts)]
            started = time.perf_counter()
            try:
                cast_vote(self.engine, prompt_id=prompt_id, user_id="bench", value=1)
            except OperationalError:
                self.refused += 1
            self.latencies.append(time.perf_counter() - started)


def run(path: Path, batch_rows: int) -> dict[str, Any]:
    """Prune ``path`` with deletes of ``batch_rows`` rows while a voter votes; the timings."""
    engine = get_engine(f"sqlite:///{path}")
    longest = [0.0]
    began: dict[int, float] = {}

    def on_begin(connection: Any) -> None:
        began[id(connection)] = time.perf_counter()

    def on_commit(connection: Any) -> None:
        longest[0] = max(longest[0], time.perf_counter() - began.pop(id(connection), time.perf_counter()))

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "commit", on_commit)
    voter = Voter(engine)
    voter.start()
    time.sleep(0.5)
    started = time.perf_counter()
    deleted = sum(
        purge(engine, step.table, step.condition, dry_run=False, batch_rows=batch_rows)[0]
        for step in _steps(cutoff_ms(DAYS), None)
    )
    total = time.perf_counter() - started
    time.sleep(0.2)
    voter.stop.set()
    voter.join()
    dispose_engines()
    votes = sorted(voter.latencies)
    return {
        "rows": deleted,
        "total": total,
        "longest": longest[0],
        "p50": statistics.median(votes),
        "max": votes[-1],
        "count": len(votes),
        "refused": voter.refused,
    }


def main() -> None:
    """Seed once, prune two copies two ways, print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        seeded = Path(folder) / "seeded.db"
        seed(seeded, args.turns)
        results = {}
        for name, rows in (("batched (500 rows)", PURGE_BATCH_ROWS), ("one DELETE per table", 10**9)):
            copy = Path(folder) / f"{rows}.db"
            shutil.copy(seeded, copy)
            results[name] = run(copy, rows)
    batched, whole = results.values()
    print(f"prune of data older than {DAYS} days, {args.turns:,} turns seeded over 90 days (SQLite)")
    print(f"{'':28}{'batched (500 rows)':>22}{'one DELETE per table':>24}{'ratio':>9}")
    for label, key, unit in (
        ("rows deleted", "rows", ""),
        ("total time", "total", "s"),
        ("longest write transaction", "longest", "s"),
        ("vote latency p50 meanwhile", "p50", "s"),
        ("vote latency max meanwhile", "max", "s"),
    ):
        left, right = batched[key], whole[key]
        ratio = f"{right / left:8.1f}x" if unit and left else ""
        shown = (
            (f"{left * 1000:18.1f} ms", f"{right * 1000:20.1f} ms")
            if unit
            else (f"{left:21,}", f"{right:23,}")
        )
        print(f"{label:28}{shown[0]:>22}{shown[1]:>24}{ratio:>9}")
    print(f"votes cast meanwhile: {batched['count']} / {whole['count']}")
    print(f"votes refused (database is locked after 5 s): {batched['refused']} / {whole['refused']}")


if __name__ == "__main__":
    main()
