"""``get_prompt``: from server mode's cache, against a server read every time, and from a local SQLite file.

A real ``python -m bilan_core serve`` runs on 127.0.0.1 over a SQLite file. One client keeps versions for
``BILAN_PROMPT_CACHE_SECONDS`` (60), one has the cache off (0: every call asks the server), and a local
client reads its own SQLite file. Then the server is stopped and the cache-off client is timed again: it
tries the server, fails, and serves the last version read. Each call is timed on its own.

Run: ``python3 -m bench.prompts`` (from the repository root). Target: from the cache, under 0.1 ms.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.ingest import served
from bilan_core.client.bilan import Bilan
from bilan_core.server.api_keys import create_key
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine

TARGET_MS = 0.1
MESSAGES = [
    {"role": "system", "content": "You answer for {{company}} in {{language}}. Be {{tone}}."},
    {"role": "user", "content": "{{question}}"},
]


def timings(call: Callable[[], object], count: int) -> list[float]:
    """Milliseconds of each of ``count`` calls (after one warm-up call)."""
    call()
    found = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        found.append((time.perf_counter_ns() - started) / 1e6)
    return found


def row(name: str, values: list[float], base: float) -> str:
    p50 = statistics.median(values)
    p99 = statistics.quantiles(values, n=100)[98]
    return f"{name:<40}{len(values):>7}{p50:>11.4f}{p99:>11.4f}{p50 / base:>10.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cached", type=int, default=20_000, help="calls served from the cache")
    parser.add_argument("--remote", type=int, default=300, help="calls that ask the server")
    args = parser.parse_args()
    logging.getLogger("bilan_core.remote.prompt_calls").setLevel(logging.ERROR)  # one warning per call
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'server.db'}"
        key = create_key(get_engine(url), project="bench").key
        local = Bilan(load_settings(database_url=f"sqlite:///{Path(folder) / 'local.db'}", telemetry=False))
        local.create_prompt("support", MESSAGES, params={"temperature": 0.2}, labels=["production"])
        with served(url, workers=1) as endpoint:

            def client(ttl: float) -> Bilan:
                options = {"mode": "server", "api_key": key, "endpoint": endpoint, "telemetry": False}
                return Bilan(
                    load_settings(**options, prompt_cache_seconds=ttl, data_dir=Path(folder) / str(ttl))
                )

            cached, uncached = client(60.0), client(0.0)
            cached.create_prompt("support", MESSAGES, params={"temperature": 0.2}, labels=["production"])
            results = {
                "server mode, from the cache (TTL 60 s)": timings(
                    lambda: cached.get_prompt("support"), args.cached
                ),
                "server mode, cache off (HTTP each call)": timings(
                    lambda: uncached.get_prompt("support"), args.remote
                ),
                "local mode, SQLite file": timings(lambda: local.get_prompt("support"), args.remote),
            }
        # The server process is gone: the cache-off client falls back to the last version it read.
        results["server down, last version read"] = timings(
            lambda: uncached.get_prompt("support"), args.remote
        )
        for each in (cached, uncached, local):
            each.close()
    base = statistics.median(next(iter(results.values())))
    print("get_prompt('support'), each call timed; ratio of medians to the cached call")
    print(f"{'case':<40}{'calls':>7}{'p50 ms':>11}{'p99 ms':>11}{'ratio':>11}")
    for name, values in results.items():
        print(row(name, values, base))
    verdict = "met" if base < TARGET_MS else "NOT met"
    print(f"target: from the cache under {TARGET_MS} ms -> {verdict}")


if __name__ == "__main__":
    main()
