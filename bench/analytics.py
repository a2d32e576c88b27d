"""The Analytics page at scale: every query it runs, and its first render, at 100k and 1M turns on SQLite.

For each size a child process seeds a SQLite file in a temporary folder with ``demo-data`` (about one
vote per two turns), then a fresh child process measures: first the page's first render in AppTest
(Streamlit caches empty, modules already imported by a warm-up render on an empty database); then,
through the ``Bilan`` client exactly as the page calls it, ``data_version``, ``filter_options``,
``dashboard`` (and each query inside it, timed on its own) and the first page of ``comments``, for the
page's default view (last 30 days) and other views; the process's peak memory (``ru_maxrss``) so far;
and last the three downloads, which run only when clicked. The two sizes are printed side by side
with their ratio.

Run: ``python3 -m bench.analytics`` (from the repository root; 2 to 5 minutes, mostly seeding).
Targets (issue 4): all page queries < 1 s at 1M turns, first render < 3 s, peak memory < 500 MB.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100_000, 1_000_000)
REPEATS = 3
TARGET_QUERIES_S = 1.0
TARGET_RENDER_S = 3.0
TARGET_PEAK_MB = 500


def seed(url: str, turns: int) -> dict[str, Any]:
    """Seed in a child process (its memory is not the page's) and return what it printed."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bilan_core", "demo-data", "--turns", str(turns), "--seed", "7"],
        env={**os.environ, "BILAN_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "BILAN_TELEMETRY": "off"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {"seconds": time.perf_counter() - started, "output": result.stdout.strip()}


def measure_in_child(url: str, module: str = "bench.analytics") -> dict[str, Any]:
    """Run ``module --measure`` in a fresh process so its peak memory and caches are the page's alone."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--measure", url],
        env={**os.environ, "PYTHONPATH": str(ROOT), "BILAN_TELEMETRY": "off"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring {url} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- inside the measuring child ----------------------------------------------------------------------


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def page_queries(client: Any, where: Any, search: str | None = None) -> dict[str, float]:
    """The four client calls the page makes for one view, each timed once."""
    times = {}
    times["data_version"], _ = timed(client.data_version)
    times["filter_options"], _ = timed(client.filter_options)
    times["dashboard"], _ = timed(lambda: client.dashboard(where))
    times["comments (page 1)"], _ = timed(lambda: client.comments(where, search=search))
    return times


def other_views(at: int) -> dict[str, Any]:
    """The Analytics page's views but its default (30 days): the other presets and one of each filter."""
    from bilan_core.app.analytics_view import PageFilters

    return {
        "24 h": PageFilters(time_range="24h").to_filter(at),
        "7 d": PageFilters(time_range="7d").to_filter(at),
        "90 d": PageFilters(time_range="90d").to_filter(at),
        "all time": PageFilters(time_range="all").to_filter(at),
        "30 d, one model": PageFilters(models=("gpt-4o",)).to_filter(at),
        "30 d, one user": PageFilters(users=("bob",)).to_filter(at),
        "30 d, team session": PageFilters(team_session="sprint-42").to_filter(at),
        "30 d, v3 only": PageFilters(prompt_versions=("v3",)).to_filter(at),
    }


def measure(url: str) -> dict[str, Any]:
    """Everything for one database, as JSON-able numbers."""
    from bilan_core.app.analytics_view import PageFilters
    from bilan_core.client.bilan import Bilan
    from bilan_core.clock import now_ms
    from bilan_core.settings import load_settings

    render = first_render(url)  # before any other read of this database in this process
    client = Bilan(load_settings(database_url=url, telemetry=False))
    at = now_ms()
    default = PageFilters().to_filter(at)
    first = page_queries(client, default)
    runs = [page_queries(client, default) for _ in range(REPEATS)]
    view_totals = {name: sum(page_queries(client, where).values()) for name, where in other_views(at).items()}
    view_totals["30 d, comment search"] = sum(page_queries(client, default, search="wrong").values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "first": first,
        "warm_median": {name: statistics.median(run[name] for run in runs) for name in first},
        "parts": dashboard_parts(client, default),
        "views": view_totals,
        "render": render,
        "peak_mb": peak_mb,
        "exports": export_times(client, default),
        "export_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def dashboard_parts(client: Any, where: Any) -> dict[str, float]:
    """The queries inside ``dashboard``, each timed on its own (so they add up to more than the call)."""
    from bilan_core.analytics import dashboard as analytics

    engine, prices = client.engine, client.prices()
    turns = analytics.turn_rollup(engine, where)
    parts = {
        "turn daily roll-up": lambda: analytics.turn_rollup(engine, where),
        "vote daily roll-up": lambda: analytics.vote_rollup(engine, where),
        "headline (with its roll-ups)": lambda: analytics.headline(engine, where, prices=prices),
        "previous-period headline": lambda: analytics.headline(engine, where.previous(), prices=prices),
        "latency p50/p95 walks per model": lambda: analytics.latency_percentiles(engine, where, rollup=turns),
        "votes per user": lambda: analytics.votes_by_user(engine, where),
        "comment count": lambda: analytics.comment_count(engine, where),
    }
    return {name: timed(call)[0] for name, call in parts.items()}


def export_times(client: Any, where: Any) -> dict[str, float]:
    """The three downloads of the default view (made only when clicked), measured after the page's peak."""
    from bilan_core.analytics.exports import EXPORT_KINDS, export_bytes

    return {
        kind: timed(lambda kind=kind: export_bytes(client.engine, kind, where))[0] for kind in EXPORT_KINDS
    }


def render_page(database_url: str, *, timeout: float) -> tuple[float, Any]:
    """The Analytics page rendered once in AppTest with empty Streamlit caches: its seconds and the app."""
    import streamlit as st

    from tests.app_support import new_app

    os.environ["BILAN_DATABASE_URL"] = database_url
    st.cache_resource.clear()
    st.cache_data.clear()
    app = new_app("pages/analytics.py")
    app.default_timeout = timeout
    seconds, app = timed(app.run)
    if app.exception:
        raise SystemExit(f"the page failed: {[e.value for e in app.exception]}")
    return seconds, app


def first_render(url: str) -> dict[str, float]:
    """The page's first render in AppTest with empty Streamlit caches (after a warm-up on an empty DB)."""
    with tempfile.TemporaryDirectory() as empty:
        render_page(f"sqlite:///{Path(empty) / 'empty.db'}", timeout=120)
    first, app = render_page(url, timeout=120)
    rerun, _ = timed(app.run)
    if len(app.get("vega_lite_chart")) != 8:
        raise SystemExit("the page did not draw its 8 charts")
    return {"first": first, "rerun (cached)": rerun}


# --- the report ---------------------------------------------------------------------------------------


def row(label: str, values: list[float], unit: str = "s", ratio: bool = True) -> str:
    cells = "".join(f"{value:>12.3f}" if unit == "s" else f"{value:>12.0f}" for value in values)
    tail = f"{values[-1] / values[0]:>9.1f}x" if ratio and len(values) > 1 and values[0] > 0 else ""
    return f"  {label:<38}{cells}{tail}"


def report(sizes: list[int], seeds: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    header = "".join(f"{size:>12,}" for size in sizes) + ("    ratio" if len(sizes) > 1 else "")
    print(f"\n{'turns':<40}{header}")
    print("seeding (demo-data, child process)")
    print(row("seconds", [seed["seconds"] for seed in seeds]))
    for seed_result in seeds:
        print(f"    {seed_result['output']}")
    print("page queries, default view (last 30 days), first call [s]")
    for name in results[0]["first"]:
        print(row(name, [result["first"][name] for result in results]))
    totals = [sum(result["first"].values()) for result in results]
    print(row("TOTAL (target < 1 s)", totals))
    print("  inside dashboard, each timed on its own [s]")
    for part in results[0]["parts"]:
        print(row(f"  {part}", [result["parts"][part] for result in results]))
    print(f"page queries, default view, warm (median of {REPEATS}) [s]")
    print(row("TOTAL", [sum(result["warm_median"].values()) for result in results]))
    print("page queries, other views, total [s]")
    for view in results[0]["views"]:
        print(row(view, [result["views"][view] for result in results]))
    print("page render in AppTest [s]")
    print(row("first render (target < 3 s)", [result["render"]["first"] for result in results]))
    print(row("rerun (cached)", [result["render"]["rerun (cached)"] for result in results]))
    print("peak memory of the measuring process [MB]")
    print(row("ru_maxrss (target < 500 MB)", [result["peak_mb"] for result in results], unit="MB"))
    print("downloads of the default view, on click (not part of the render) [s]")
    for kind in results[0]["exports"]:
        print(row(kind, [result["exports"][kind] for result in results]))
    print(row("peak memory after the downloads [MB]", [r["export_peak_mb"] for r in results], unit="MB"))
    biggest = results[-1]
    worst_view = max([sum(biggest["first"].values()), *biggest["views"].values()])
    verdicts = [
        ("all page queries < 1 s (default view)", totals[-1] < TARGET_QUERIES_S),
        ("all page queries < 1 s (every view above)", worst_view < TARGET_QUERIES_S),
        ("first render < 3 s", biggest["render"]["first"] < TARGET_RENDER_S),
        ("peak memory < 500 MB", biggest["peak_mb"] < TARGET_PEAK_MB),
    ]
    print(f"targets at {sizes[-1]:,} turns:")
    for name, met in verdicts:
        print(f"  {name}: {'met' if met else 'MISSED'}")


def main() -> None:
    """Seed each size, measure each in a fresh process, print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="turn counts to seed")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(f"Python {sys.version.split()[0]}, SQLite via SQLAlchemy; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bilan-bench-") as folder:
        seeds, results = [], []
        for size in args.sizes:
            url = f"sqlite:///{Path(folder) / f'analytics-{size}.db'}"
            seeds.append(seed(url, size))
            results.append(measure_in_child(url))
        report(args.sizes, seeds, results)


if __name__ == "__main__":
    main()
