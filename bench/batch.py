"""Batch speed: the guide's sequential loop against the batch runner, same prompts, same run.

Both sides use Bilan's tracked calls through the real openai SDK against the loopback OpenAI-compatible
server (tests/fixtures/openai_server.py) answering every request after a fixed delay (200 ms by
default), each on its own SQLite file: every answer is a recorded turn on both sides, and the batch
side also stores the run and marks each item done. The sequential side is the integration guide's
plain ``for`` loop of ``create_chat_completion``; the batch side is ``start_batch`` + ``run_batch``
at concurrency 16, run three times (a new stored run each time) and taken at the median; the
sequential loop, which takes some 40 s, runs once. Each side is warmed up by one untimed call
first. The ideal speed-up is the concurrency (16×); the target is at least 12×. The machine's load
is printed: other work on a small machine slows the batch side most (its 16 answers arrive together).

Run: ``python3 -m bench.batch`` (from the repository root).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_runs import BatchOptions, run_batch, start_batch
from bilan_core.settings import load_settings
from tests.fixtures.openai_server import FakeOpenAIServer

MODEL = "gpt-4o-mini"
TARGET = 12.0


def client_for(server: FakeOpenAIServer, database: Path) -> Bilan:
    """A local client on its own SQLite file, asking the loopback server."""
    return Bilan(
        load_settings(
            database_url=f"sqlite:///{database}",
            openai_base_url=server.base_url,
            openai_api_key="sk-bench",
            telemetry=False,
            max_retries=0,
        )
    )


def sequential_loop(bilan: Bilan, prompts: list[str]) -> float:
    """The guide's loop: one tracked call after the other. Returns seconds."""
    start = time.perf_counter()
    for prompt in prompts:
        bilan.create_chat_completion([{"role": "user", "content": prompt}], model=MODEL)
    return time.perf_counter() - start


def batch_runner(bilan: Bilan, prompts: list[str], concurrency: int) -> tuple[float, int]:
    """The stored batch run over the same prompts (file check, run, items). Returns seconds and answers."""
    data = "".join(f"{prompt}\n" for prompt in prompts).encode()
    start = time.perf_counter()
    run = start_batch(
        bilan, file_name="bench.txt", data=data, options=BatchOptions(model=MODEL, concurrency=concurrency)
    )
    final = run_batch(bilan, run.id)
    return time.perf_counter() - start, final.succeeded


def main() -> None:
    """Run both sides once against one server and print the times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the server waits before answering")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="batch runs to take the median of")
    args = parser.parse_args()

    server = FakeOpenAIServer().start()
    server.configure(answer_delay=args.delay)
    prompts = [f"Question {number}: summarise item {number} in one line." for number in range(args.prompts)]
    with tempfile.TemporaryDirectory() as folder:
        sequential_client = client_for(server, Path(folder) / "sequential.db")
        batch_client = client_for(server, Path(folder) / "batch.db")
        # Warm-up, untimed and alike on both sides: one call each, so one-time imports, the database
        # schema and the first connection are not counted.
        sequential_loop(sequential_client, ["warm-up"])
        batch_runner(batch_client, ["warm-up"], args.concurrency)
        load = os.getloadavg()[0]
        sequential_s = sequential_loop(sequential_client, prompts)
        batch_runs = [batch_runner(batch_client, prompts, args.concurrency) for _ in range(args.repeat)]
        sequential_client.close()
        batch_client.close()
    server.stop()

    for _seconds, answered in batch_runs:
        if answered != args.prompts:
            raise SystemExit(f"a batch run answered {answered} of {args.prompts} prompts")
    batch_s = statistics.median(seconds for seconds, _answered in batch_runs)
    ratio = sequential_s / batch_s
    ideal = args.concurrency
    each = ", ".join(f"{seconds:.2f}" for seconds, _answered in batch_runs)
    print(f"{args.prompts} prompts, server answers after {args.delay * 1000:.0f} ms")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the start")
    print(f"sequential loop (create_chat_completion):  {sequential_s:7.2f} s")
    print(f"batch runner, concurrency {args.concurrency:<3}:           {batch_s:7.2f} s (median of {each})")
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"speed-up: {ratio:.1f}x (ideal {ideal}x, target >= {TARGET:.0f}x) -> {verdict}")


if __name__ == "__main__":
    main()
