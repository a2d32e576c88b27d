"""What tracking costs: the same 200-chunk stream through the raw openai SDK and through Bilan, side by side.

Both clients talk to the loopback OpenAI-compatible server (tests/fixtures/openai_server.py) over real
HTTP + SSE; runs are interleaved (alternating which goes first) after a warm-up. Two stream shapes:
paced (1 ms between chunks, still far faster than a real provider) and unpaced (the worst case, where
the turn's one SQLite write at the end weighs most). Then ``vote()`` latency on a SQLite file.

Run: ``python3 -m bench.overhead`` (from the repository root).
Targets: total-time ratio ≤ 1.02, TTFT added ≤ 1 ms, vote p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import openai

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.fixtures.openai_server import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "Write two hundred words about tracking feedback."}]
MODEL = "gpt-4o-mini"


def raw_run(sdk: openai.OpenAI) -> tuple[float, float, str]:
    """One stream through the raw SDK: (ttft seconds, total seconds, text)."""
    start = time.perf_counter()
    ttft = None
    parts = []
    stream = sdk.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            if ttft is None:
                ttft = time.perf_counter() - start
            parts.append(chunk.choices[0].delta.content)
    return ttft, time.perf_counter() - start, "".join(parts)


def tracked_run(bilan: Bilan) -> tuple[float, float, str, str]:
    """One stream through Bilan: (ttft seconds, total seconds, text, prompt id); the turn is recorded."""
    start = time.perf_counter()
    ttft = None
    parts = []
    response = bilan.create_streaming_chat(MESSAGES, model=MODEL)
    for text in response.stream:
        if ttft is None:
            ttft = time.perf_counter() - start
        parts.append(text)
    return ttft, time.perf_counter() - start, "".join(parts), response.prompt_id


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_streams(
    server: FakeOpenAIServer, bilan: Bilan, *, pairs: int, warmup: int, chunks: int, chunk_delay: float
) -> list[str]:
    """Interleaved raw/tracked runs of one stream shape; prints medians and ratios; returns prompt ids."""
    server.configure(answer=" ".join(f"word{i}" for i in range(chunks)), chunk_delay=chunk_delay)
    sdk = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
    raw: list[tuple[float, float]] = []
    tracked: list[tuple[float, float]] = []
    prompt_ids = []
    for pair in range(warmup + pairs):
        runs = ("raw", "tracked") if pair % 2 == 0 else ("tracked", "raw")
        for kind in runs:
            gc.collect()
            if kind == "raw":
                ttft, total, text = raw_run(sdk)
                result = raw
            else:
                ttft, total, text, prompt_id = tracked_run(bilan)
                prompt_ids.append(prompt_id)
                result = tracked
            assert len(text.split(" ")) == chunks, "the stream did not arrive whole"
            if pair >= warmup:
                result.append((ttft, total))
    sdk.close()
    shape = f"{chunks} chunks, {chunk_delay * 1000:g} ms apart"
    print(f"stream: {shape}, {pairs} interleaved pairs (+{warmup} warm-up)")
    report_streams(raw, tracked)
    return prompt_ids


def report_streams(raw: list[tuple[float, float]], tracked: list[tuple[float, float]]) -> None:
    """Print median TTFT and total for both, their ratios and the median paired difference."""
    raw_ttft, raw_total = (statistics.median(values) * 1000 for values in zip(*raw, strict=True))
    bilan_ttft, bilan_total = (statistics.median(values) * 1000 for values in zip(*tracked, strict=True))
    paired_ttft = statistics.median((b[0] - r[0]) * 1000 for r, b in zip(raw, tracked, strict=True))
    paired_total = statistics.median((b[1] - r[1]) * 1000 for r, b in zip(raw, tracked, strict=True))
    print(f"  raw openai SDK   median TTFT {raw_ttft:8.3f} ms   median total {raw_total:8.3f} ms")
    print(f"  Bilan tracked    median TTFT {bilan_ttft:8.3f} ms   median total {bilan_total:8.3f} ms")
    print(f"  total-time ratio {bilan_total / raw_total:.4f} (target ≤ 1.02); "
          f"median paired difference {paired_total:+.3f} ms")  # fmt: skip
    print(f"  TTFT added       {bilan_ttft - raw_ttft:+.3f} ms (target ≤ 1 ms); "
          f"median paired difference {paired_ttft:+.3f} ms")  # fmt: skip


def measure_votes(bilan: Bilan, prompt_ids: list[str], votes: int) -> None:
    """Time ``vote()`` calls (new votes and replacements) on the SQLite file; prints p50 and p99."""
    timings = []
    for index in range(votes):
        prompt_id = prompt_ids[index % len(prompt_ids)]
        start = time.perf_counter()
        bilan.vote(prompt_id, 1 if index % 3 else -1, f"comment {index}", user_id=f"user-{index % 17}")
        timings.append((time.perf_counter() - start) * 1000)
    print(f"vote() on a SQLite file: {votes} votes over {len(prompt_ids)} turns")
    p50, p99 = percentile(timings, 0.50), percentile(timings, 0.99)
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms (target p99 < 5 ms)")


def main() -> None:
    """Run both stream shapes (paced like a provider, and unpaced as the worst case), then the votes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--chunk-delay", type=float, default=0.001, help="seconds between chunks (paced run)")
    parser.add_argument("--votes", type=int, default=1000)
    args = parser.parse_args()
    server = FakeOpenAIServer().start()
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            database_url=f"sqlite:///{Path(folder) / 'bench.db'}",
            openai_base_url=server.base_url,
            openai_api_key="sk-bench",
            telemetry=False,
            max_retries=0,
        )
        bilan = Bilan(settings)
        try:
            shape = {"pairs": args.pairs, "warmup": args.warmup, "chunks": args.chunks}
            prompt_ids = measure_streams(server, bilan, chunk_delay=args.chunk_delay, **shape)
            prompt_ids += measure_streams(server, bilan, chunk_delay=0.0, **shape)
            measure_votes(bilan, prompt_ids, args.votes)
        finally:
            bilan.close()
            server.stop()


if __name__ == "__main__":
    main()
