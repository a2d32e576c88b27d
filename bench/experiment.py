"""Experiment speed: a dataset × variants one cell at a time against the same run at concurrency 16,
and the time to build the results grid.

Both sides run the same stored experiment (``start_experiment`` + ``resume_experiment``: every cell a
recorded turn, marked done in the run) through the real openai SDK against the loopback
OpenAI-compatible server (tests/fixtures/openai_server.py) answering every request after a fixed delay
(200 ms by default), each side on its own SQLite file. The server runs in a process of its own, as a
provider would (``bench.batch`` runs it in the client's process, sharing its GIL). "One by one" is the
same runner at concurrency 1; the other side is concurrency 16 (ideal speed-up 16×, target at least
12×). Each side is warmed up by one untimed one-cell experiment first. Then the 200 × 3 run's results
are read and built into the grid (``ExperimentRun.results()``: one read of the run's rows, the cells
frame, the pivot to one row per item), median of 5 (target under 1 s), and one rerun of the whole
Experiments page in AppTest showing that run (median of 3), for reference. The machine's load is
printed.

Run: ``python3 -m bench.experiment`` (from the repository root).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.experiment_runs import ExperimentRun, resume_experiment, start_experiment
from bilan_core.settings import load_settings
from tests.fixtures.bilan_server import free_port
from tests.fixtures.openai_server import FakeOpenAIServer

REPO = Path(__file__).resolve().parent.parent
SPEED_TARGET = 12.0
GRID_TARGET_S = 1.0
VARIANTS = [
    {"name": "terse", "model": "gpt-4o-mini", "messages": "Answer in one line.", "temperature": 0},
    {"name": "plain", "model": "gpt-4o-mini", "messages": "Answer plainly."},
    {"name": "strong", "model": "gpt-4o", "messages": "Answer carefully.", "max_tokens": 200},
]


class ServerProcess:
    """The loopback server in a process of its own, as a provider is: it does not share the client's GIL."""

    def __init__(self, delay: float) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        self.process = context.Process(target=_serve, args=(self.port, delay, ready), daemon=True)
        self.process.start()
        if not ready.wait(30):
            raise SystemExit("the loopback server did not start")

    @property
    def base_url(self) -> str:
        """The URL to give the SDK."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """End the server's process."""
        self.process.terminate()
        self.process.join()


def _serve(port: int, delay: float, ready: Any) -> None:
    server = FakeOpenAIServer(port=port).start()
    server.configure(answer_delay=delay)
    ready.set()
    threading.Event().wait()


def client_for(base_url: str, database: Path) -> Bilan:
    """A local client on its own SQLite file, asking the loopback server."""
    return Bilan(
        load_settings(
            database_url=f"sqlite:///{database}",
            openai_base_url=base_url,
            openai_api_key="sk-bench",
            telemetry=False,
            max_retries=0,
        )
    )


def prepare(bilan: Bilan, items: int) -> None:
    """The dataset of ``items`` questions (with a ``contains`` check) and a one-cell warm-up dataset."""
    bilan.create_dataset(
        "bench",
        [
            {"input": f"Question {n}: summarise item {n}.", "expected": {"contains": "loopback"}}
            for n in range(items)
        ],
    )
    bilan.create_dataset("warm-up", ["warm-up"])
    resume_experiment(bilan, start_experiment(bilan, "warm-up", VARIANTS[:1]).id)


def timed_run(bilan: Bilan, concurrency: int) -> tuple[float, ExperimentRun]:
    """Store and answer the experiment; returns seconds and the finished run."""
    start = time.perf_counter()
    run = start_experiment(bilan, "bench", VARIANTS, concurrency=concurrency)
    final = resume_experiment(bilan, run.id)
    return time.perf_counter() - start, final


def grid_seconds(run: ExperimentRun, repeat: int = 5) -> tuple[float, tuple[int, int]]:
    """Median seconds to read the run and build its results grid, and the grid's shape."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        grid = run.results()
        times.append(time.perf_counter() - start)
    return statistics.median(times), grid.shape


def page_render_seconds(database: Path, base_url: str, repeat: int = 3) -> float:
    """Median seconds of one rerun of the Experiments page (AppTest) on the newest run, after a warm-up."""
    from streamlit.testing.v1 import AppTest

    os.environ.update(
        BILAN_DATABASE_URL=f"sqlite:///{database}",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-bench",
        BILAN_TELEMETRY="false",
    )
    os.environ.pop("BILAN_APP_PASSWORD", None)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.switch_page("pages/experiments.py")
    at.run()
    if at.exception:
        raise SystemExit(f"the Experiments page failed: {[e.value for e in at.exception]}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Run both sides against one server, then time the grid; print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the server waits before answering")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    server = ServerProcess(args.delay)
    cells = args.items * len(VARIANTS)
    with tempfile.TemporaryDirectory() as folder:
        one_by_one_client = client_for(server.base_url, Path(folder) / "one-by-one.db")
        concurrent_client = client_for(server.base_url, Path(folder) / "concurrent.db")
        prepare(one_by_one_client, args.items)
        prepare(concurrent_client, args.items)
        load = os.getloadavg()[0]
        one_s, one_run = timed_run(one_by_one_client, 1)
        many_s, many_run = timed_run(concurrent_client, args.concurrency)
        grid_s, shape = grid_seconds(many_run)
        one_by_one_client.close()
        concurrent_client.close()
        page_s = page_render_seconds(Path(folder) / "concurrent.db", server.base_url)
    server.stop()

    for run in (one_run, many_run):
        if run.run.succeeded != cells:
            raise SystemExit(f"a run answered {run.run.succeeded} of {cells} cells")
    ratio = one_s / many_s
    delay_ms = args.delay * 1000
    print(f"{args.items} items x {len(VARIANTS)} variants = {cells} cells, answers after {delay_ms:.0f} ms")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the start")
    print(f"one by one (concurrency 1):   {one_s:7.2f} s")
    print(f"concurrency {args.concurrency:<3}:              {many_s:7.2f} s")
    verdict = "OK" if ratio >= SPEED_TARGET else "BELOW TARGET"
    print(f"speed-up: {ratio:.1f}x (ideal {args.concurrency}x, target >= {SPEED_TARGET:.0f}x) -> {verdict}")
    grid_verdict = "OK" if grid_s < GRID_TARGET_S else "BELOW TARGET"
    print(
        f"results grid {shape[0]} rows x {shape[1]} columns (read + frame building), median of 5: "
        f"{grid_s * 1000:.0f} ms (target < {GRID_TARGET_S * 1000:.0f} ms) -> {grid_verdict}"
    )
    print(f"the whole Experiments page (summary, grid, ratings, pairwise) in AppTest, rerun: {page_s:.2f} s")


if __name__ == "__main__":
    main()
