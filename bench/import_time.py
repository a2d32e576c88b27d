"""How long ``import bilan_core`` takes in a fresh process, beside its heaviest dependencies, in one run.

Usage: python -m bench.import_time [--rounds 15]

Each round starts new interpreters (interleaved, so machine noise hits every row alike) and times the
import inside the child with ``perf_counter``. Prints the median per row, its ratio to a bare
interpreter's ``import sys``, and which heavy modules ``import bilan_core`` pulled in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

TARGETS = {
    "bilan_core": "import bilan_core",
    "openai": "import openai",
    "sqlmodel": "import sqlmodel",
    "pandas": "import pandas",
    "alembic": "import alembic.command",
}
HEAVY = ("pandas", "numpy", "alembic", "altair", "scipy", "fastapi", "openai", "sqlalchemy")
CHILD = (
    "import sys, time, json\n"
    "start = time.perf_counter()\n"
    "{statement}\n"
    "elapsed = time.perf_counter() - start\n"
    "print(json.dumps({{'seconds': elapsed, 'heavy': [m for m in {heavy!r} if m in sys.modules]}}))\n"
)


def time_import(statement: str) -> dict[str, object]:
    """Run ``statement`` in a new interpreter and return its import time and the heavy modules loaded."""
    code = CHILD.format(statement=statement, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    """Time each import over interleaved rounds and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    seconds: dict[str, list[float]] = {name: [] for name in TARGETS}
    heavy: list[str] = []
    for _ in range(rounds):
        for name, statement in TARGETS.items():
            result = time_import(statement)
            seconds[name].append(float(result["seconds"]))  # type: ignore[arg-type]
            if name == "bilan_core":
                heavy = list(result["heavy"])  # type: ignore[call-overload]
    base = statistics.median(seconds["bilan_core"])
    print(f"import time, median of {rounds} fresh interpreters (interleaved)")
    print(f"{'module':<12} {'median ms':>10} {'vs bilan_core':>14}")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:<12} {median * 1000:>10.1f} {median / base:>13.2f}x")
    print(f"heavy modules loaded by `import bilan_core`: {', '.join(heavy) or 'none'}")
    print(f"target: under 500 ms -> {'met' if base < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
