"""Server requests writing the same turns and votes at once keep the roll-ups equal to the rows on
PostgreSQL: starts and outcomes of a turn, votes cast, changed and cleared, spread over four threads,
some requests sent twice."""

from __future__ import annotations

import queue
import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from bilan_core.server.ingest import ingest
from bilan_core.store.engine import get_engine
from bilan_core.store.models import VOTES
from bilan_core.store.rollup_rebuild import rebuild_rollups
from tests.rollup_support import SERVER_PROJECT, rollup_rows, server_requests

THREADS = 4


def test_concurrent_requests_on_the_same_turns_keep_the_roll_ups_exact(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    rng = random.Random(20261130)
    requests = server_requests(rng, turns=160)
    resent = rng.sample(requests, len(requests) // 5)
    work: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for request in requests + resent:
        work.put(request)
    failures: list[BaseException] = []
    processed = [0] * THREADS

    def send(index: int) -> None:
        try:
            while True:
                try:
                    request = work.get_nowait()
                except queue.Empty:
                    return
                reply = ingest(engine, project_id=SERVER_PROJECT, items=request, check_text=False)
                assert reply.stats.errors == 0, reply.errors
                processed[index] += reply.stats.processed
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert sum(processed) == sum(len(request) for request in requests)  # the re-sent ones were skipped
    maintained = rollup_rows(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(VOTES)).scalar_one() > 0
    with engine.begin() as connection:
        rebuild_rollups(connection, SERVER_PROJECT)
    rebuilt = rollup_rows(engine)
    assert maintained["turns"] == rebuilt["turns"]
    assert maintained["votes"].keys() == rebuilt["votes"].keys()
    for key, values in rebuilt["votes"].items():
        assert maintained["votes"][key] == pytest.approx(values, rel=1e-9, abs=1e-9)
