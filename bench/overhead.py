"""What tracking adds to a call: the raw openai SDK, Bilan, and Langfuse's OpenAI drop-in, side by side.

Every client talks to the loopback OpenAI-compatible server (tests/fixtures/openai_server.py) over real
HTTP (+ SSE for streams); runs are interleaved (the order rotating) after a warm-up. The figures are the
median paired differences to the raw call, of wall time and of CPU time on the caller's thread (the work
tracking adds for the caller; it holds when the machine is loaded, wall time does not). Three shapes: a
plain call (300 rounds by default: its sub-millisecond differences need them), a 200-chunk stream paced
1 ms apart, and the same stream unpaced (the worst case); each line also gives the ratio of its medians
to the raw call's. Bilan is timed twice: as it is (the turn journaled and stored off the caller's thread)
and with the turn stored in SQLite on the caller's thread (how every call was tracked before). Langfuse's
drop-in (``langfuse.openai``) is timed last, when installed, with a key and a dead loopback host (its
exporter fails in the background): importing it patches the openai SDK for the whole process, so its raw
baseline is the unpatched method (``__wrapped__``).

Run: ``python3 -m bench.overhead`` (from the repository root). Target: under 0.3 ms added per call.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletionChunk

from bilan_core.chat.streaming import StreamingChatResponse
from bilan_core.client.bilan import Bilan
from bilan_core.client.local import LocalBackend
from bilan_core.settings import load_settings
from bilan_core.store.models import Turn, TurnFields
from bilan_core.store.turns import record_turn_in_conversation
from tests.fixtures.bilan_server import free_port
from tests.fixtures.openai_server import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "Write two hundred words about tracking feedback."}]
MODEL = "gpt-4o-mini"
TARGET_MS = 0.3
Run = Callable[[bool], str]  # one call (streamed or not), returning the text it got


class OnCallersThread(LocalBackend):
    """The local backend storing each turn before the call returns (Bilan's tracking before write-behind)."""

    def record_turn(self, fields: TurnFields) -> None:
        """Store the turn in its SQLite transaction now."""
        record_turn_in_conversation(self.engine, Turn(project_id=self.project_id, **fields))


def sdk_run(create: Callable[..., Any]) -> Run:
    """A run through an SDK ``chat.completions.create`` (raw or traced)."""

    def run(stream: bool) -> str:
        if not stream:
            return str(create(model=MODEL, messages=MESSAGES).choices[0].message.content)
        chunks = create(model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    return run


def bilan_run(client: Bilan) -> Run:
    """A tracked run through a Bilan client."""

    def run(stream: bool) -> str:
        if not stream:
            return client.create_chat_completion(MESSAGES, model=MODEL).content
        return "".join(client.create_streaming_chat(MESSAGES, model=MODEL).stream)

    return run


def timed(
    runs: dict[str, Run], *, stream: bool, pairs: int, warmup: int, words: int
) -> dict[str, list[tuple[float, float]]]:
    """Interleaved runs of every client, the order rotating; per run after the warm-up, milliseconds of
    wall time and of CPU time on the caller's thread (the second holds on a loaded machine)."""
    names = list(runs)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_ in range(warmup + pairs):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            began, began_cpu = time.perf_counter(), time.thread_time()
            text = runs[name](stream)
            elapsed = (time.perf_counter() - began) * 1000, (time.thread_time() - began_cpu) * 1000
            assert len(text.split(" ")) == words, f"{name}: the answer did not arrive whole"
            if round_ >= warmup:
                times[name].append(elapsed)
    return times


def report(title: str, times: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    """Print each client's medians, their ratio to the raw SDK's and the median paired differences to it;
    return the CPU differences."""
    raw = times["raw openai SDK"]
    print(f"{title}: {len(raw)} interleaved rounds (wall ms | CPU ms on the caller's thread)")
    raw_wall, raw_cpu = (statistics.median(column) for column in zip(*raw, strict=True))
    added = {}
    for name, values in times.items():
        wall, cpu = (statistics.median(column) for column in zip(*values, strict=True))
        line = f"  {name:<34} median {wall:8.3f} | {cpu:7.3f}"
        if name != "raw openai SDK":
            pairs = list(zip(values, raw, strict=True))
            added_wall = statistics.median(mine[0] - base[0] for mine, base in pairs)
            added[name] = statistics.median(mine[1] - base[1] for mine, base in pairs)
            line += f"   x{wall / raw_wall:.3f} | x{cpu / raw_cpu:.3f}"
            line += f"   added {added_wall:+.3f} | {added[name]:+.3f}"
        print(line)
    return added


def shapes(
    server: FakeOpenAIServer, runs: dict[str, Run], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """The three call shapes for these clients; the added milliseconds per shape and client."""
    added = {}
    options = {"pairs": args.pairs, "warmup": args.warmup}
    server.configure(answer=" ".join(f"word{i}" for i in range(20)), chunk_delay=0.0)
    plain = timed(runs, stream=False, words=20, pairs=args.plain_pairs, warmup=args.warmup)
    added["plain"] = report("plain call, 20-word answer", plain)
    answer = " ".join(f"word{i}" for i in range(args.chunks))
    for label, delay in (("paced stream", args.chunk_delay), ("unpaced stream", 0.0)):
        server.configure(answer=answer, chunk_delay=delay)
        title = f"{label}, {args.chunks} chunks {delay * 1000:g} ms apart"
        added[label] = report(title, timed(runs, stream=True, words=args.chunks, **options))
    return added


def langfuse_runs(sdk: openai.OpenAI) -> dict[str, Run] | None:
    """Raw and Langfuse-traced runs, or None (with a message) when Langfuse is not installed."""
    os.environ.update(
        LANGFUSE_PUBLIC_KEY="pk-lf-bench",
        LANGFUSE_SECRET_KEY="sk-lf-bench",
        LANGFUSE_HOST=f"http://127.0.0.1:{free_port()}",  # nothing listens: exports fail in the background
    )
    for noisy in ("opentelemetry", "langfuse"):  # the failing exports would log every second
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        import langfuse.openai  # noqa: F401  (patches the openai SDK)
    except ImportError:
        print("Langfuse is not installed (pip install langfuse): its drop-in is not timed")
        return None
    traced = openai.OpenAI(api_key="sk-bench", base_url=str(sdk.base_url), max_retries=0)
    unpatched = openai.resources.chat.completions.Completions.create.__wrapped__  # type: ignore[attr-defined]
    return {
        "raw openai SDK": sdk_run(lambda **request: unpatched(sdk.chat.completions, **request)),
        "Langfuse drop-in": sdk_run(traced.chat.completions.create),
    }


def main() -> None:
    """Time the three shapes for raw, Bilan (both ways) and Langfuse; print the added milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=60, help="rounds of each stream shape")
    parser.add_argument("--plain-pairs", type=int, default=300, help="rounds of the plain call (ms each)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--chunk-delay", type=float, default=0.001, help="seconds between chunks (paced run)")
    parser.add_argument("--votes", type=int, default=500)
    args = parser.parse_args()
    server = FakeOpenAIServer().start()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as folder:
        clients = []
        for name in ("behind", "before"):
            settings = load_settings(
                database_url=f"sqlite:///{Path(folder) / name}.db",
                openai_base_url=server.base_url,
                openai_api_key="sk-bench",
                telemetry=False,
                max_retries=0,
            )
            clients.append(Bilan(settings))
        clients[1].backend = OnCallersThread(clients[1].backend.engine)  # type: ignore[attr-defined]
        sdk = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
        runs = {
            "raw openai SDK": sdk_run(sdk.chat.completions.create),
            "Bilan (write-behind)": bilan_run(clients[0]),
            "Bilan (turn stored on the caller)": bilan_run(clients[1]),
        }
        added = shapes(server, runs, args)
        measure_stream_work(clients[0], sdk, args.chunks)
        measure_votes(clients[0], args.votes)
        traced = langfuse_runs(sdk)
        if traced is not None:
            for shape, figures in shapes(server, traced, args).items():
                added[shape].update(figures)
        for client in clients:
            client.close()
    server.stop()
    summarise(added)


class Replay(list[ChatCompletionChunk]):
    """Chunks received earlier, handed out again as the SDK's stream hands them out (it has ``close``)."""

    def close(self) -> None:
        """Nothing to close."""


def measure_stream_work(client: Bilan, sdk: openai.OpenAI, chunks: int, rounds: int = 300) -> None:
    """Bilan's own work on one streamed call, without the network and the SDK's parsing (whose noise
    hides it above): a recorded stream of ``chunks`` chunks read raw, and read through a tracked call's
    ``StreamingChatResponse`` that prepares the call and journals its turn; interleaved, warm."""
    stream = sdk.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    recorded = Replay(stream)

    def raw() -> str:
        return "".join(chunk.choices[0].delta.content or "" for chunk in recorded if chunk.choices)

    def tracked() -> str:
        call = client._prepare_call(MESSAGES, {"model": MODEL}, stream=True)
        replayed = StreamingChatResponse(call, recorded, client.record_turn_fields)  # type: ignore[arg-type]
        return "".join(replayed.stream)

    times: dict[str, list[float]] = {"raw": [], "tracked": []}
    for _ in range(rounds):
        for name, run in (("raw", raw), ("tracked", tracked)):
            began = time.thread_time()
            run()
            times[name].append((time.thread_time() - began) * 1e6)
    raw_us, tracked_us = (statistics.median(values) for values in times.values())
    print(
        f"replayed stream, {chunks} chunks, no network ({rounds} rounds, warm; CPU µs): read raw "
        f"{raw_us:.1f}, through Bilan {tracked_us:.1f} (prepare, every chunk, the turn journaled): "
        f"added {tracked_us - raw_us:+.1f} µs, x{tracked_us / raw_us:.2f}"
    )


def measure_votes(client: Bilan, votes: int) -> None:
    """Time ``vote()`` on new turns (each vote first stores the queued turn it needs)."""
    timings = []
    for index in range(votes):
        prompt_id = client.create_chat_completion(MESSAGES, model=MODEL).prompt_id
        began = time.perf_counter()
        client.vote(prompt_id, 1 if index % 3 else -1, f"comment {index}")
        timings.append((time.perf_counter() - began) * 1000)
    ordered = sorted(timings)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
    print(
        f"vote() right after its call, on a SQLite file ({votes} votes): p50 {p50:.3f} ms, p99 {p99:.3f} ms"
    )


def summarise(added: dict[str, dict[str, float]]) -> None:
    """The added milliseconds per shape and client, against the target."""
    print(f"CPU added on the caller's thread per call (median paired difference, ms; target < {TARGET_MS})")
    names = list(next(iter(added.values())))
    print(f"  {'':<16}" + "".join(f"{name:>36}" for name in names))
    for shape, figures in added.items():
        print(f"  {shape:<16}" + "".join(f"{figures.get(name, float('nan')):>+36.3f}" for name in names))
    worst = max(figures["Bilan (write-behind)"] for figures in added.values())
    print(
        f"Bilan (write-behind), worst shape: {worst:+.3f} ms -> {'met' if worst < TARGET_MS else 'not met'}"
    )


if __name__ == "__main__":
    main()
