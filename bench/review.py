"""Team review sessions at size: 1,000 items × 20 raters, the handout and the rating timed call by call.

A session of 1,000 recorded answers with one 1–5 criterion and ``raters_per_item`` 3 is rated by 20
raters until nothing is left (3,000 ratings): first one after another in one process (each call alone:
its own cost), then by 20 processes at once (each call waits its turn for the write lock: the cost a
crowd sees). Every ``next_item`` and ``rate`` is timed; p50, p99 and the slowest are printed. Then the
session's ratings are read and, when ``analytics.agreement`` is present, Krippendorff's alpha is computed
on them with its bootstrap, and the facilitator's board is read and computed ten times (target: under
300 ms). ``--postgres URL`` runs the same on a PostgreSQL database (emptied first: give a scratch
database).

Run: ``python3 -m bench.review [--items 1000] [--raters 20] [--postgres URL]``. Target: p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert, text

from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.settings import load_settings
from bilan_core.store.engine import dispose_engines, get_engine
from bilan_core.store.models import TURNS

TARGET_MS = 20.0
BOARD_TARGET_MS = 300.0
K = 3
ResultT = TypeVar("ResultT")


def seed_turns(url: str, count: int) -> list[str]:
    """``count`` answered turns over four models, written in one statement; their prompt ids."""
    at = now_ms()
    rows = [
        {
            "project_id": 0,
            "prompt_id": f"bench-{number}",
            "user_id": "author",
            "model": ("gpt-4o", "gpt-4o-mini", "llama-3", "mistral")[number % 4],
            "prompt_text": f"question {number}: explain write-ahead logging in two sentences",
            "response": f"answer {number}: " + "a log of changes written before the data itself. " * 4,
            "messages": [{"role": "user", "content": f"question {number}"}],
            "status": "ok",
            "created_ms": at - number,
        }
        for number in range(count)
    ]
    with get_engine(url).begin() as connection:
        connection.execute(insert(TURNS), rows)
    return [str(row["prompt_id"]) for row in rows]


def timed(call: Callable[[], ResultT], into: list[float], cpu: list[float] | None = None) -> ResultT:
    """Run ``call``, append its wall milliseconds to ``into`` (and its CPU milliseconds to ``cpu``)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    result = call()
    into.append((time.perf_counter() - started) * 1000)
    if cpu is not None:
        cpu.append((time.process_time() - started_cpu) * 1000)
    return result


def opinion(item_id: int, rater: str) -> int:
    """A rater's vote: the item's true verdict (2 in 3 items are good) 85 % of the time, else the other."""
    truth = 1 if item_id % 3 else -1
    return truth if random.Random(f"{item_id}/{rater}").random() < 0.85 else -truth


def rate_round_robin(url: str, session_id: str, raters: int) -> dict[str, list[float]]:
    """Every rater in turn takes and rates one item until none is left; each call's wall and CPU ms."""
    client = Bilan(load_settings(database_url=url, user_id="lead", telemetry=False))
    session = client.get_review_session(session_id)
    handouts: list[float] = []
    ratings: list[float] = []
    handout_cpu: list[float] = []
    rating_cpu: list[float] = []
    active = [f"rater-{number}" for number in range(raters)]
    while active:
        for rater in list(active):
            view = timed(lambda rater=rater: session.next_item(rater), handouts, handout_cpu)
            if view is None:
                active.remove(rater)
                continue
            vote = opinion(view.item_id, rater)
            score = {"accuracy": 3 + vote + view.item_id % 2}
            rate = lambda view=view, rater=rater, vote=vote, score=score: session.rate(  # noqa: E731
                view.item_id, rater, vote=vote, scores=score
            )
            timed(rate, ratings, rating_cpu)
    client.close()
    return {"next_item": handouts, "rate": ratings, "next_item CPU": handout_cpu, "rate CPU": rating_cpu}


def one_rater(url: str, session_id: str, rater: str, queue: Any) -> None:
    """One rater's process: take and rate until nothing is left; send back each call's milliseconds."""
    client = Bilan(load_settings(database_url=url, user_id=rater, telemetry=False))
    session = client.get_review_session(session_id)
    handouts: list[float] = []
    ratings: list[float] = []
    while (view := timed(lambda: session.next_item(rater), handouts)) is not None:
        timed(lambda view=view: session.rate(view.item_id, rater, vote=1, scores={"accuracy": 3}), ratings)
    queue.put((handouts, ratings))
    client.close()


def rate_in_parallel(url: str, session_id: str, raters: int) -> tuple[list[float], list[float]]:
    """``raters`` processes rate at once; every call's milliseconds, all raters together."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=one_rater, args=(url, session_id, f"crowd-{number}", queue))
        for number in range(raters)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return [ms for handouts, _ in results for ms in handouts], [
        ms for _, ratings in results for ms in ratings
    ]


def row(name: str, values: list[float]) -> str:
    """One line of the table: calls, p50, p99 and the slowest, in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    verdict = "ok" if p99 < TARGET_MS else "over"
    return (
        f"{name:<34} {len(values):>6} {statistics.median(values):>8.2f} {p99:>8.2f} {ordered[-1]:>8.1f}  "
        f"{verdict}"
    )


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    """A fresh SQLite file, or the given PostgreSQL database emptied of Bilan's tables."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'review.db'}"
        return
    with get_engine(postgres).begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    dispose_engines()
    yield postgres


def run(items: int, raters: int, postgres: str | None) -> None:
    """Seed, make two sessions, rate them one by one and in parallel, print the table."""
    with database(postgres) as url:
        prompt_ids = seed_turns(url, items)
        lead = Bilan(load_settings(database_url=url, user_id="lead", telemetry=False))
        started = time.perf_counter()
        alone = lead.create_review_session(
            "bench", prompt_ids=prompt_ids, criteria=["accuracy"], raters_per_item=K
        )
        made_ms = (time.perf_counter() - started) * 1000
        crowd = lead.create_review_session(
            "crowd", prompt_ids=prompt_ids, criteria=["accuracy"], raters_per_item=K
        )
        dispose_engines()  # the children open their own connections
        print(
            f"database: {'PostgreSQL' if postgres else 'SQLite'}; {items:,} items × {raters} raters, k = {K}"
        )
        print(f"making a session of {items:,} items: {made_ms:.0f} ms")
        print(f"{'':<34} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, values in rate_round_robin(url, alone.id, raters).items():
            print(row(f"{name}, one call at a time", values))
        handouts, ratings = rate_in_parallel(url, crowd.id, raters)
        print(row(f"next_item, {raters} processes at once", handouts))
        print(row(f"rate, {raters} processes at once", ratings))
        frame_ms: list[float] = []
        lead.get_review_session(alone.id).ratings()  # pandas imported, not timed
        frame = timed(lambda: lead.get_review_session(alone.id).ratings(), frame_ms)
        print(f"reading the {len(frame):,} ratings as a DataFrame: {frame_ms[0]:.0f} ms")
        print(agreement_line(frame))
        print(board_line(lead.get_review_session(alone.id)))
        lead.close()
        dispose_engines()


def agreement_line(frame: Any) -> str:
    """Alpha with its bootstrap on the session's ratings, timed (when the agreement module exists)."""
    try:
        from bilan_core.analytics.agreement import rating_agreement
    except ImportError:
        return "agreement: analytics/agreement.py is not on this branch"
    spent: list[float] = []
    found = timed(lambda: rating_agreement(frame, criteria=["accuracy"]), spent)
    alpha = found.overall
    return (
        f"agreement (alpha on votes and accuracy, 1,000-round bootstrap): {spent[0]:.0f} ms "
        f"(vote alpha {alpha.alpha:.2f}, 95 % {alpha.ci_low:.2f}–{alpha.ci_high:.2f})"
    )


def board_line(session: Any, rounds: int = 10) -> str:
    """The facilitator's board (``session.board()``: reads and figures), timed ``rounds`` times after one."""
    session.board()  # the board's modules imported, not timed
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        timed(session.board, wall, cpu)
    verdict = "ok" if statistics.median(wall) < BOARD_TARGET_MS else "over"
    return (
        f"the board ({rounds} reads): median {statistics.median(wall):.0f} ms wall, "
        f"{statistics.median(cpu):.0f} ms CPU, slowest {max(wall):.0f} ms  {verdict} "
        f"(target {BOARD_TARGET_MS:.0f} ms)"
    )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a scratch PostgreSQL URL (its tables are dropped)")
    options = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{one:.1f}' for one in os.getloadavg())}")
    run(options.items, options.raters, options.postgres)
    print(f"load average at the end: {' '.join(f'{one:.1f}' for one in os.getloadavg())}")


if __name__ == "__main__":
    main()
