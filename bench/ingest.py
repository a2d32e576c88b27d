"""Server ingestion: sustained events/s into PostgreSQL from concurrent clients, and one vote's round trip.

A real ``python -m bilan_core serve`` (uvicorn) runs on 127.0.0.1 against a fresh PostgreSQL database
made for this run (dropped at the end). Clients post pre-encoded ``{"events": [...]}`` bodies over
keep-alive connections, so the figures measure the server, not the clients' JSON encoding. The event
mix is what a chat app sends: per turn a ``turn_started``, a ``turn_completed`` and a ``vote_cast``.
Each phase runs for a fixed time; the stored rows are counted afterwards to check nothing was lost.
After each warm-up the database is analysed (``ANALYZE``), as autovacuum does within a minute of a new
database's first writes: without statistics PostgreSQL plans a turn lookup by prompt id as a scan of the
project's rows (the first index led by ``project_id``), so a run on a database seconds old would measure
plans that grow with the table and that no server keeps for more than a minute.

With ``--reference PATH`` (a checkout of other code, e.g. the commit before the analytics roll-ups),
the batches-of-100 phase is also run against a server started from that checkout, each on its own fresh
database, alternating this code and that one twice, and the ratio of their rates is printed.

Run: ``python3 -m bench.ingest`` (from the repository root; PostgreSQL on 127.0.0.1:5432).
Targets on a 2-core machine: ≥ 10,000 events/s with batches, single vote p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx2
import psycopg

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.server.api_keys import create_key
from bilan_core.store.engine import dispose_engines, get_engine
from tests.postgres_support import fresh_postgres_database

ROOT = Path(__file__).resolve().parents[1]
T0 = now_ms() - MS_PER_DAY  # the server refuses times more than a day ahead or 10 years old
EVENTS_TARGET = 10_000.0
P99_TARGET_MS = 20.0
VOTE_WARM_UP = 50


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    database_url: str, workers: int, *, baseline: str | None = None, tree: str | None = None
) -> Iterator[str]:
    """``python -m bilan_core serve`` on a free loopback port (rate limit off); yields its URL.

    With ``baseline`` (a checkout of older code), that code is served the way it was: uvicorn on its
    pure-Python HTTP parser (h11) and asyncio's event loop. With ``tree`` (another checkout), that
    code's own ``serve`` command runs, with the same workers.
    """
    port = free_port()
    env = dict(os.environ, BILAN_DATABASE_URL=database_url, BILAN_RATE_LIMIT="0")
    if tree is not None:
        env["PYTHONPATH"] = tree
    command = [sys.executable, "-m", "bilan_core", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log"]
    if baseline is not None:
        command = [sys.executable, "-m", "uvicorn", "bilan_core.server.app:create_app", "--factory"]
        command += ["--port", str(port), "--no-access-log", "--http", "h11", "--loop", "asyncio"]
        env["PYTHONPATH"] = baseline
    process = subprocess.Popen(
        command, env=env, cwd=baseline or tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Return once ``/health`` answers 200; fail if the server exits first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the server exited: {output}")
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy in 120 s")


def turn_events(client: str, turn: int) -> list[dict[str, object]]:
    """The three events of one answered and rated turn."""
    turn_id = f"turn_{client}_{turn}"
    at = T0 + turn * 10
    base = {"userId": f"user_{turn % 50}"}
    return [
        {
            **base,
            "eventId": f"evt_{turn_id}_s",
            "eventType": "turn_started",
            "timestamp": at,
            "properties": {"turnId": turn_id, "startedAt": at, "model": "gpt-4o", "conversation_id": "c1"},
            "promptText": "What is the capital of France?",
        },
        {
            **base,
            "eventId": f"evt_{turn_id}_c",
            "eventType": "turn_completed",
            "timestamp": at + 800,
            "properties": {
                "turnId": turn_id,
                "status": "success",
                "responseTime": 0.8,
                "prompt_tokens": 12,
                "completion_tokens": 9,
                "conversation_id": "c1",
            },
            "aiResponse": "Paris is the capital of France.",
        },
        {
            **base,
            "eventId": f"evt_{turn_id}_v",
            "eventType": "vote_cast",
            "timestamp": at + 5000,
            "properties": {"turn_id": turn_id, "value": 1 if turn % 4 else -1, "comment": "clear"},
        },
    ]


def bodies(client: str, batch: int, events: int) -> list[bytes]:
    """``events`` events of one client cut into request bodies of ``batch`` events."""
    stream = [event for turn in range(events // 3 + 1) for event in turn_events(client, turn)][:events]
    return [
        json.dumps({"events": stream[start : start + batch]}).encode()
        for start in range(0, len(stream), batch)
    ]


@dataclass
class Sustained:
    """One throughput phase's outcome."""

    batch: int
    events: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Events stored per second."""
        return self.events / self.seconds


def sustained(url: str, key: str, *, batch: int, clients: int, seconds: float, tag: str) -> Sustained:
    """``clients`` threads post batches back to back for ``seconds``; events stored per second."""
    per_client = int(60_000 * seconds / clients) // batch * batch + batch
    prepared = [bodies(f"{tag}-{c}", batch, per_client) for c in range(clients)]
    stored = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start_line = threading.Barrier(clients + 1)
    stop_at = [float("inf")]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            post_until_stopped(index)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            start_line.abort()

    def post_until_stopped(index: int) -> None:
        with http_client(url, key, 60) as http:
            http.get("/health")
            start_line.wait()
            for body in prepared[index]:
                if time.perf_counter() >= stop_at[0]:
                    break
                began = time.perf_counter()
                reply = http.post("/api/events", content=body, headers={"Content-Type": "application/json"})
                latencies[index].append(time.perf_counter() - began)
                reply.raise_for_status()
                stats = reply.json()["stats"]
                if stats["errors"] or stats["skipped"]:
                    raise RuntimeError(f"unexpected reply stats {stats}")
                stored[index] += stats["processed"]
            else:
                raise RuntimeError("a client ran out of prepared events; raise per_client")

    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):
        start_line.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"a client failed: {failures[0]!r}") from failures[0]
    elapsed = time.perf_counter() - began
    return Sustained(batch, sum(stored), elapsed, [value for one in latencies for value in one])


def vote_round_trips(url: str, key: str, count: int, *, first: int = 0) -> list[float]:
    """Seconds per POST of one ``vote_cast`` event (a new vote each time), after a warm-up."""
    results = []
    with http_client(url, key, 10) as http:
        for index in range(first, first + count + VOTE_WARM_UP):
            event = {
                "eventId": f"evt_single_{index}",
                "eventType": "vote_cast",
                "timestamp": T0 + index,
                "userId": "alice",
                "properties": {"turn_id": f"turn_single_{index}", "value": 1, "comment": "good"},
            }
            body = json.dumps({"events": [event]}).encode()
            began = time.perf_counter()
            reply = http.post("/api/events", content=body, headers={"Content-Type": "application/json"})
            elapsed = time.perf_counter() - began
            if reply.status_code != 200 or reply.json()["stats"]["processed"] != 1:
                raise RuntimeError(f"single vote refused: {reply.status_code} {reply.text[:200]}")
            if index >= first + VOTE_WARM_UP:
                results.append(elapsed)
    return results


def http_client(url: str, key: str, timeout: float) -> httpx2.Client:
    """A keep-alive client (default settings, as an app would have) that sends the key."""
    return httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def analyze(database_url: str) -> None:
    """Gather the planner's statistics on the database, as autovacuum does after a table's first writes."""
    dsn = database_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("ANALYZE")


def stored_rows(database_url: str) -> dict[str, int]:
    """Rows in events, turns and votes."""
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("events", "turns", "votes")
        }


def report(phases: dict[int, Sustained], clients: int, votes: list[float]) -> None:
    """Print each phase's rate and latencies, their ratios to the targets and to each other."""
    for batch, phase in phases.items():
        print(
            f"{clients} clients, batches of {batch:>4}: {phase.events:>7,} events in {phase.seconds:.1f} s"
            f" = {phase.rate:>6,.0f} events/s (ratio to target {phase.rate / EVENTS_TARGET:.2f});"
            f" request p50 {percentile(phase.latencies, 0.5) * 1000:.0f} ms,"
            f" p99 {percentile(phase.latencies, 0.99) * 1000:.0f} ms"
        )
    print(f"batches of 1000 vs 100: {phases[1000].rate / phases[100].rate:.2f}x the events/s")
    p50, p99 = percentile(votes, 0.5) * 1000, percentile(votes, 0.99) * 1000
    print(
        f"single vote round trip ({len(votes)} sequential POSTs): p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" mean {statistics.fmean(votes) * 1000:.1f} ms (p99 ratio to the {P99_TARGET_MS:.0f} ms target:"
        f" {p99 / P99_TARGET_MS:.2f})"
    )


def compare_votes(baseline: str, votes: int) -> None:
    """Single votes against this code and ``baseline`` (one worker each), interleaved in blocks."""
    timings: dict[str, list[float]] = {"baseline": [], "this code": []}
    with (
        fresh_postgres_database("bilan_bench") as old_url,
        fresh_postgres_database("bilan_bench") as new_url,
    ):
        urls = {"baseline": old_url, "this code": new_url}
        keys = {name: create_key(get_engine(url), project="bench").key for name, url in urls.items()}
        dispose_engines()
        with served(old_url, 1, baseline=baseline) as old, served(new_url, 1) as new:
            servers = {"baseline": old, "this code": new}
            for block in range(0, votes, 100):
                for name in sorted(servers, reverse=block % 200 == 0):
                    timings[name] += vote_round_trips(servers[name], keys[name], 100, first=block * 2)
    print(f"single vote round trip, one worker each, {votes} votes interleaved in blocks of 100:")
    for name, values in timings.items():
        p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
        print(f"  {name:<10} p50 {p50:.2f} ms   p99 {p99:.2f} ms")
    ratio = percentile(timings["this code"], 0.5) / percentile(timings["baseline"], 0.5)
    print(f"  p50 ratio this code / baseline: {ratio:.2f}")


def key_of(database_url: str, tree: str) -> str:
    """A new API key made by ``tree``'s own command (which also creates that code's schema)."""
    made = subprocess.run(
        [sys.executable, "-m", "bilan_core", "keys", "create", "--project", "bench"],
        env=dict(os.environ, BILAN_DATABASE_URL=database_url, PYTHONPATH=tree),
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def compare(reference: str, args: argparse.Namespace) -> None:
    """Batches of 100 from ``args.clients`` clients: this code vs ``reference``, alternated, twice each."""
    rates: dict[str, list[float]] = {"this code": [], "reference": []}
    for _ in range(2):
        for name, tree in (("this code", str(ROOT)), ("reference", reference)):
            with fresh_postgres_database("bilan_bench") as database_url:
                key = key_of(database_url, tree)
                with served(database_url, args.workers, tree=tree) as url:
                    sustained(url, key, batch=100, clients=args.clients, seconds=1.0, tag=f"w{name[0]}")
                    analyze(database_url)
                    phase = sustained(
                        url, key, batch=100, clients=args.clients, seconds=args.seconds, tag=name[0]
                    )
                    rates[name].append(phase.rate)
    for name, found in rates.items():
        print(f"batches of 100, {name:<9}: " + " · ".join(f"{rate:,.0f}" for rate in found) + " events/s")
    ratio = statistics.fmean(rates["this code"]) / statistics.fmean(rates["reference"])
    print(f"this code / reference: {ratio:.2f}x the events/s (reference: {reference})")


def main() -> None:
    """Run every phase against one server and print the figures and their ratios to the targets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each throughput phase")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--votes", type=int, default=1000, help="single-vote round trips to time")
    parser.add_argument("--baseline", help="a checkout of older code: compare single votes with it, and stop")
    parser.add_argument("--reference", help="a checkout of other code to compare batches of 100 with")
    parser.add_argument("--compare-only", action="store_true", help="only the --reference comparison")
    args = parser.parse_args()
    if args.reference:
        compare(args.reference, args)
        if args.compare_only:
            return
    if args.baseline:
        compare_votes(args.baseline, args.votes)
        return
    sent = 0
    with fresh_postgres_database("bilan_bench") as database_url:
        key = create_key(get_engine(database_url), project="bench").key
        dispose_engines()
        with served(database_url, args.workers) as url:
            print(f"python -m bilan_core serve --workers {args.workers} on PostgreSQL; {os.cpu_count()} CPUs")
            phases = {}
            for batch in (100, 1000):
                warm = sustained(url, key, batch=batch, clients=args.clients, seconds=1.0, tag=f"warm{batch}")
                analyze(database_url)
                phases[batch] = sustained(
                    url, key, batch=batch, clients=args.clients, seconds=args.seconds, tag=f"run{batch}"
                )
                sent += warm.events + phases[batch].events
            votes = vote_round_trips(url, key, args.votes)
            sent += args.votes + VOTE_WARM_UP
        rows = stored_rows(database_url)
    report(phases, args.clients, votes)
    stored = f"{rows['events']:,} events ({sent:,} sent), {rows['turns']:,} turns, {rows['votes']:,} votes"
    print(f"rows stored: {stored}")
    if rows["events"] != sent:
        raise SystemExit(f"{sent - rows['events']} events were lost")


if __name__ == "__main__":
    main()
