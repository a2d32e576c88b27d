"""An experiment run's figures: its cells, the results grid, the per-variant summary, run against run.

Everything is computed from one read of the run's rows (``Bilan.batch_results``: each cell's answer,
figures and the reader's vote), so the figures agree with what the grid shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from bilan_core.analytics.trust import wilson_interval
from bilan_core.pricing import estimate_cost
from bilan_core.store.batch_runs import FAILED, BatchResult
from bilan_core.store.checks import check_answer
from bilan_core.store.experiment_runs import Cell, ExperimentSettings
from bilan_core.store.models import BatchRun

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

CELL_COLUMNS = [
    "item", "variant", "input", "expected", "answer", "status", "error", "model", "prompt_tokens",
    "completion_tokens", "latency_ms", "cost", "vote", "comment", "check", "prompt_id",
]  # fmt: skip
GRID_FIELDS = ["answer", "status", "tokens", "latency_ms", "cost", "vote", "check"]
SUMMARY_COLUMNS = [
    "variant", "model", "items", "errors", "up", "down", "positive_rate", "ci_low", "ci_high",
    "check_pass_rate", "check_vote_agreement", "pairwise_wins", "total_cost", "median_latency_ms",
]  # fmt: skip


def experiment_settings(run: BatchRun) -> ExperimentSettings:
    """The dataset, variants and concurrency an experiment run was stored with."""
    if run.kind != "experiment":
        raise ValueError(f"run {run.id!r} is a {run.kind} run, not an experiment")
    return ExperimentSettings.model_validate(run.settings or {})


def cells_frame(client: Bilan, run: BatchRun, *, user_id: str | None = None) -> pd.DataFrame:
    """One row per cell (item × variant), in item order then variant order, with the user's vote."""
    settings = experiment_settings(run)
    names = [variant.name for variant in settings.variants]
    prices = client.prices()
    rows = [_cell_row(result, names, prices) for result in client.batch_results(run.id, user_id=user_id)]
    frame = pd.DataFrame(rows, columns=CELL_COLUMNS)
    frame["variant"] = pd.Categorical(frame["variant"], categories=names, ordered=True)
    return frame.sort_values(["item", "variant"], kind="stable").reset_index(drop=True)


def _cell_row(result: BatchResult, names: list[str], prices: Any) -> dict[str, Any]:
    cell = Cell.model_validate(result.metadata or {})
    tokens = (result.prompt_tokens, result.completion_tokens)
    cost = math.nan
    if result.model and tokens[0] is not None and tokens[1] is not None:
        cost = estimate_cost(prices, result.model, tokens[0], tokens[1])
    return {
        "item": cell.item + 1,
        "variant": names[cell.variant],
        "input": result.prompt,
        "expected": cell.expected,
        "answer": result.response,
        "status": result.status,
        "error": result.error,
        "model": result.model,
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "latency_ms": result.latency_ms,
        "cost": cost,
        "vote": result.vote,
        "comment": result.comment,
        "check": check_answer(cell.expected, result.response),
        "prompt_id": result.prompt_id,
    }


def results_grid(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per item: its input and expected, then ``<variant>: <field>`` for each variant."""
    cells = cells.assign(tokens=cells["prompt_tokens"].astype("Float64") + cells["completion_tokens"])
    items = cells.drop_duplicates("item")[["item", "input", "expected"]].set_index("item")
    wide = cells.pivot(index="item", columns="variant", values=GRID_FIELDS)
    variants = list(cells["variant"].cat.categories)
    ordered = [(field, variant) for variant in variants for field in GRID_FIELDS]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(ordered))
    wide.columns = [f"{variant}: {field}" for field, variant in ordered]
    return items.join(wide).reset_index()


def summary_frame(cells: pd.DataFrame, wins: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per variant: items, errors, 👍/👎 with the positive rate's 95 % interval, checks, cost."""
    rows = []
    for variant, group in cells.groupby("variant", observed=False, sort=True):
        rows.append(_summary_row(str(variant), group, (wins or {}).get(str(variant), 0)))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _summary_row(variant: str, group: pd.DataFrame, wins: int) -> dict[str, Any]:
    up, down = int((group["vote"] == 1).sum()), int((group["vote"] == -1).sum())
    low, high = wilson_interval(up, up + down)
    checked = group["check"].dropna().astype(bool)
    both = group[group["check"].notna() & group["vote"].notna()]
    agree = (both["vote"] == 1) == both["check"].astype(bool)
    models = group["model"].dropna()
    return {
        "variant": variant,
        "model": models.iloc[0] if len(models) else None,
        "items": len(group),
        "errors": int((group["status"] == FAILED).sum()),
        "up": up,
        "down": down,
        "positive_rate": up / (up + down) if up + down else None,
        "ci_low": low,
        "ci_high": high,
        "check_pass_rate": float(checked.mean()) if len(checked) else None,
        "check_vote_agreement": float(agree.mean()) if len(both) else None,
        "pairwise_wins": wins,
        "total_cost": float(group["cost"].sum(min_count=1)) if group["cost"].notna().any() else None,
        "median_latency_ms": float(group["latency_ms"].median())
        if group["latency_ms"].notna().any()
        else None,
    }


def check_vote_agreement(cells: pd.DataFrame) -> float | None:
    """Of the cells with both a vote and a check result, the share where 👍 means passed and 👎 failed."""
    both = cells[cells["check"].notna() & cells["vote"].notna()]
    return float(((both["vote"] == 1) == both["check"].astype(bool)).mean()) if len(both) else None


@dataclass(frozen=True)
class RunComparison:
    """Run A against run B: the cells whose verdict flipped, and per-variant cost and latency deltas."""

    flips: pd.DataFrame
    deltas: pd.DataFrame


FLIP_COLUMNS = ["item", "variant", "input", "vote_a", "vote_b", "check_a", "check_b", "answer_a", "answer_b"]
DELTA_COLUMNS = [
    "variant", "cost_a", "cost_b", "cost_delta", "median_latency_ms_a", "median_latency_ms_b",
    "median_latency_delta_ms",
]  # fmt: skip


def compare_cells(first: pd.DataFrame, second: pd.DataFrame) -> RunComparison:
    """Match cells by item and variant name; a flip is 👍↔👎, or a check passing in one run only."""
    keys = ["item", "variant"]
    left = first.assign(variant=first["variant"].astype(str))
    right = second.assign(variant=second["variant"].astype(str))
    both = left.merge(right, on=keys, suffixes=("_a", "_b"))
    vote_flip = both["vote_a"].notna() & both["vote_b"].notna() & (both["vote_a"] != both["vote_b"])
    check_flip = both["check_a"].notna() & both["check_b"].notna() & (both["check_a"] != both["check_b"])
    flips = both[vote_flip | check_flip].rename(columns={"input_a": "input"})[FLIP_COLUMNS]
    return RunComparison(flips=flips.reset_index(drop=True), deltas=_deltas(left, right))


def _deltas(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    def figures(cells: pd.DataFrame) -> pd.DataFrame:
        grouped = cells.groupby("variant", sort=False)
        return pd.DataFrame(
            {"cost": grouped["cost"].sum(min_count=1), "median_latency_ms": grouped["latency_ms"].median()}
        )

    table = figures(left).merge(figures(right), left_index=True, right_index=True, suffixes=("_a", "_b"))
    table["cost_delta"] = table["cost_b"] - table["cost_a"]
    table["median_latency_delta_ms"] = table["median_latency_ms_b"] - table["median_latency_ms_a"]
    return table.reset_index(names="variant")[DELTA_COLUMNS]
