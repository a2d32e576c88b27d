"""``demo-data`` at several sizes side by side: wall and CPU time by phase, disk writes, then a rebuild.

Each size is seeded into a new SQLite file (``--folder``), in this process, as ``python -m bilan_core
demo-data`` does; then ``rebuild_rollups`` (what ``rebuild-rollups`` and the migrations run) recomputes
its roll-ups from the rows. With ``--postgres-url`` (an empty, throwaway database) one more size is
seeded there with ``COPY``. The columns are printed side by side with the ratio largest / smallest.

Run: ``python3 -m bench.seed --sizes 1000000 10000000 --folder /some/disk``. Target (issue 13): 10M turns
in under 10 minutes on SQLite, PostgreSQL at a similar rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bilan_core.store.demo_data import PHASES, seed_demo_data
from bilan_core.store.engine import dispose_engines, get_engine
from bilan_core.store.rollup_rebuild import rebuild_rollups

TARGET_10M_S = 600.0


def written_bytes() -> int:
    """What this process has written to disk so far (Linux), or 0 where that is not known."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("write_bytes")), 0)


def measure(url: str, turns: int) -> dict[str, Any]:
    """Seed ``turns`` into ``url`` and rebuild its roll-ups: the seconds, CPU seconds and bytes of each."""
    engine = get_engine(url)
    cpu, written = os.times(), written_bytes()
    summary = seed_demo_data(engine, turns=turns, seed=7)
    after = os.times()
    found: dict[str, Any] = {
        "seconds": summary.seconds,
        "cpu": after.user + after.system - cpu.user - cpu.system,
        "written GB": (written_bytes() - written) / 1e9,
        **summary.phases,
    }
    started = time.perf_counter()
    with engine.begin() as connection:
        rebuild_rollups(connection)
    found["rebuild-rollups"] = time.perf_counter() - started
    dispose_engines()
    return found


def report(labels: list[str], results: list[dict[str, Any]], largest: int) -> None:
    """The figures side by side; the ratio is column ``largest`` (the largest SQLite size) to the first."""
    print(f"\n{'turns':<30}" + "".join(f"{label:>14}" for label in labels) + "   ratio")
    names = ["seconds", "cpu", "written GB", *PHASES, "rebuild-rollups"]
    for name in names:
        values = [result[name] for result in results]
        ratio = f"{values[largest] / values[0]:7.1f}x" if values[0] else ""
        print(f"  {name:<28}" + "".join(f"{value:14.1f}" for value in values) + ratio)


def main() -> None:
    """Seed each size and print the figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="SQLite turns")
    parser.add_argument("--folder", help="where to make the temporary folder of the SQLite files")
    parser.add_argument("--postgres-url", help="an empty, throwaway PostgreSQL database to seed")
    parser.add_argument("--postgres-size", type=int, default=1_000_000, help="turns for PostgreSQL")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    labels, results = [], []
    with tempfile.TemporaryDirectory(prefix="bilan-seed-", dir=args.folder) as folder:
        for size in args.sizes:
            results.append(measure(f"sqlite:///{Path(folder) / f'seed-{size}.db'}", size))
            labels.append(f"{size:,}")
            print(
                f"{labels[-1]} turns: {results[-1]['seconds']:.1f} s; load average {os.getloadavg()[0]:.1f}"
            )
    if args.postgres_url:
        results.append(measure(args.postgres_url, args.postgres_size))
        labels.append(f"PG {args.postgres_size:,}")
    report(labels, results, len(args.sizes) - 1)
    largest = results[len(args.sizes) - 1]
    if args.sizes[-1] >= 10_000_000:
        met = "met" if largest["seconds"] < TARGET_10M_S else "not met"
        print(f"target (10M turns on SQLite < {TARGET_10M_S:.0f} s): {met}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
