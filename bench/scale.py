"""The Analytics page at 1M, 3M and 10M turns: every view cold and warm, first render, peak memory.

For each size a child process seeds a SQLite file with ``demo-data`` (about one vote per two turns);
then a fresh child process measures it. "Cold" means the database files were dropped from the OS page
cache (``posix_fadvise(POSIX_FADV_DONTNEED)`` after ``sync``) and the process's engines closed just
before, so every page the view needs is read from disk again: what a user meets first thing in a day.
Each view is the page's client calls (``bench.analytics.page_queries``: data version, filter options,
dashboard, first page of comments); "warm" is the median of three more runs. The first render is the
page in AppTest, cold. The sizes are printed side by side with the ratio largest / smallest.

With ``--postgres-url URL`` one more size is seeded into that (empty, throwaway) PostgreSQL database
with COPY and measured warm and in a fresh process (PostgreSQL's own cache cannot be dropped here).

Run: ``python3 -m bench.scale`` (1M and 3M; ``--sizes 1000000 3000000 10000000`` for 10M). With
``--keep FOLDER`` the SQLite files stay in FOLDER, and a size whose file is already there is measured
without seeding it again (its seeding line says so).
Targets (issue 13) at 10M on SQLite: every view < 300 ms cold, ratio 10M/1M <= 1.5, first render
< 1.5 s, peak < 500 MB; PostgreSQL 10M: every view < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.analytics import measure_in_child, other_views, page_queries, render_page

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000_000, 3_000_000)
TARGET_VIEW_S = 0.3
TARGET_RATIO = 1.5
TARGET_RENDER_S = 1.5
TARGET_PEAK_MB = 500
TARGET_POSTGRES_S = 1.0


def seed(url: str, turns: int) -> dict[str, Any]:
    """``demo-data`` in a child process; its wall time and what it printed."""
    environment = {**os.environ, "BILAN_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "BILAN_TELEMETRY": "off"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bilan_core", "demo-data", "--turns", str(turns), "--seed", "7"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return {"seconds": time.perf_counter() - started, "output": done.stdout.strip().splitlines()[-1]}


def database_files(url: str) -> list[Path]:
    """The SQLite file of ``url`` and its WAL and shared-memory files, where they exist."""
    path = Path(url.removeprefix("sqlite:///"))
    return [found for found in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if found.exists()]


def drop_from_page_cache(url: str) -> None:
    """Make the next read of the database come from disk (SQLite files only)."""
    if not url.startswith("sqlite"):
        return
    os.sync()
    for path in database_files(url):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


# --- inside the measuring child ----------------------------------------------------------------------


def views(at: int) -> dict[str, Any]:
    """The Analytics page's views: its presets and one of each filter."""
    from bilan_core.app.analytics_view import PageFilters

    return {"30 d (default)": PageFilters().to_filter(at), **other_views(at)}


def cold_render(url: str) -> float:
    """The page's first render in AppTest on a cold database (Streamlit and Python warmed on an empty one)."""
    with tempfile.TemporaryDirectory() as empty:
        render_page(f"sqlite:///{Path(empty) / 'empty.db'}", timeout=300)
    drop_from_page_cache(url)
    return render_page(url, timeout=300)[0]


def measure(url: str) -> dict[str, Any]:
    """Every view cold, then warm, the cold first render and the peak memory, as JSON-able numbers."""
    from bilan_core.client.bilan import Bilan
    from bilan_core.clock import now_ms
    from bilan_core.settings import load_settings
    from bilan_core.store.engine import dispose_engines

    render = cold_render(url) if url.startswith("sqlite") else None
    at = now_ms()
    cold, warm, parts = {}, {}, {}
    for name, where in views(at).items():
        dispose_engines()
        drop_from_page_cache(url)
        client = Bilan(load_settings(database_url=url, telemetry=False))
        calls = page_queries(client, where)
        cold[name] = sum(calls.values())
        parts = parts or calls  # the default view's calls, cold
        warm[name] = statistics.median(sum(page_queries(client, where).values()) for _ in range(3))
    dispose_engines()
    drop_from_page_cache(url)
    client = Bilan(load_settings(database_url=url, telemetry=False))
    default = views(at)["30 d (default)"]
    cold["30 d, comment search"] = sum(page_queries(client, default, search="wrong").values())
    warm["30 d, comment search"] = statistics.median(
        sum(page_queries(client, default, search="wrong").values()) for _ in range(3)
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cold": cold, "warm": warm, "parts": parts, "render": render, "peak_mb": peak_mb}


# --- the report ---------------------------------------------------------------------------------------


def line(label: str, values: list[float | None], unit: str = "ms") -> str:
    shown = [value * 1000 if unit == "ms" and value is not None else value for value in values]
    cells = "".join(f"{value:>12.0f}" if value is not None else f"{'-':>12}" for value in shown)
    known = [value for value in shown if value]
    tail = f"{known[-1] / known[0]:>8.2f}x" if len(known) > 1 else ""
    return f"  {label:<26}{cells}{tail}"


def report(labels: list[str], seeds: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    header = "".join(f"{label:>12}" for label in labels)
    print(f"\n{'turns':<28}{header}   ratio")
    print(line("seeding [s]", [seed["seconds"] for seed in seeds], unit="s"))
    for found in seeds:
        print(f"    {found['output']}")
    print("the default view's calls, cold [ms]")
    for call in results[0]["parts"]:
        print(line(call, [result["parts"][call] for result in results]))
    for kind in ("cold", "warm"):
        print(f"every view, page queries total, {kind} [ms]")
        for view in results[0][kind]:
            print(line(view, [result[kind][view] for result in results]))
    print(line("first render, cold [ms]", [result["render"] for result in results]))
    print(line("peak memory [MB]", [result["peak_mb"] for result in results], unit="MB"))


def main() -> None:
    """Seed each size, measure each in a fresh process, print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="SQLite turn counts")
    parser.add_argument("--folder", help="where to make the temporary folder of the SQLite files")
    parser.add_argument("--keep", help="keep the SQLite files in this folder and reuse those already there")
    parser.add_argument("--postgres-url", help="an empty, throwaway PostgreSQL database to seed and measure")
    parser.add_argument("--postgres-size", type=int, default=1_000_000, help="turns for PostgreSQL")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bilan-scale-", dir=args.folder) as temporary:
        folder = Path(args.keep or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        labels, seeds, results = [], [], []
        for size in args.sizes:
            path = folder / f"scale-{size}.db"
            url = f"sqlite:///{path}"
            kept = path.exists()
            seeds.append(seed(url, size) if not kept else {"seconds": None, "output": f"reused {path}"})
            results.append(measure_in_child(url, "bench.scale"))
            labels.append(f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size:,}")
        if args.postgres_url:
            seeds.append(seed(args.postgres_url, args.postgres_size))
            results.append(measure_in_child(args.postgres_url, "bench.scale"))
            labels.append(f"PG {args.postgres_size // 1_000_000}M")
        report(labels, seeds, results)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
