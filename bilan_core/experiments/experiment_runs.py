"""Experiments: a dataset run through several variants, every cell a recorded turn that can be voted on.

``start_experiment`` compiles every item × variant and stores the run (all or nothing);
``run_experiment`` then answers it with the batch runner (``experiments.batch_runs``: concurrency,
``Retry-After``, resuming); ``resume_experiment`` answers what is left of a stored run. An
``ExperimentRun`` reads the results, the summary and the per-experiment pairwise leaderboard, whose
comparisons are stored in the team session ``experiment:<run id>``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from bilan_core.analytics.bradley_terry import Leaderboard
from bilan_core.chat.routing import resolve_model
from bilan_core.clock import to_datetime
from bilan_core.experiments.batch_runs import ProgressCallback, check_model, run_batch, run_state
from bilan_core.experiments.cells import VariantLike, experiment_cells, variant_spec
from bilan_core.experiments.comparisons import comparison_leaderboard
from bilan_core.experiments.experiment_report import (
    RunComparison,
    cells_frame,
    check_vote_agreement,
    compare_cells,
    experiment_settings,
    results_grid,
    summary_frame,
)
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchRun, Comparison

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

SESSION_PREFIX = "experiment:"


class ExperimentRun:
    """A stored experiment run: its results, summary and pairwise verdicts, read through a client."""

    def __init__(self, client: Bilan, run: BatchRun) -> None:
        experiment_settings(run)
        self.client = client
        self.run = run

    @property
    def id(self) -> str:
        """The run's id (for ``resume_experiment`` and ``experiment show``)."""
        return self.run.id

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.run.file_name

    @property
    def settings(self) -> ExperimentSettings:
        """The dataset, variants and concurrency the run was stored with."""
        return experiment_settings(self.run)

    @property
    def team_session(self) -> str:
        """The team session the experiment's pairwise comparisons are stored in."""
        return SESSION_PREFIX + self.run.id

    def cells(self, *, user_id: str | None = None) -> pd.DataFrame:
        """One row per item × variant: answer, status, tokens, latency, cost, the user's vote, check."""
        return cells_frame(self.client, self.run, user_id=user_id)

    def results(self, *, user_id: str | None = None) -> pd.DataFrame:
        """One row per item with, per variant, the answer, status, tokens, latency, cost, vote and check."""
        return results_grid(self.cells(user_id=user_id))

    def summary(self, *, user_id: str | None = None) -> pd.DataFrame:
        """One row per variant: items, errors, 👍/👎, positive rate (95 % interval), checks, wins, cost."""
        return summary_frame(self.cells(user_id=user_id), self.pairwise_wins())

    def check_vote_agreement(self, *, user_id: str | None = None) -> float | None:
        """How often the automatic checks and the votes agree (None when no cell has both)."""
        return check_vote_agreement(self.cells(user_id=user_id))

    def pairwise_wins(self) -> dict[str, int]:
        """Wins per variant in the experiment's pairwise verdicts."""
        wins: dict[str, int] = {}
        for verdict in self.client.decided_comparisons(team_session=self.team_session):
            if verdict.winner in ("a", "b"):
                label = verdict.label_a if verdict.winner == "a" else verdict.label_b
                wins[label] = wins.get(label, 0) + 1
        return wins

    def leaderboard(self, *, min_votes: int | None = None) -> Leaderboard:
        """The Bradley–Terry leaderboard of this experiment's pairwise verdicts."""
        return comparison_leaderboard(self.client, team_session=self.team_session, min_votes=min_votes)

    def describe(self) -> str:
        """One line for pickers: name, dataset, progress, status, start time."""
        run = self.run
        started = to_datetime(run.created_ms).strftime("%Y-%m-%d %H:%M UTC")
        done = run.succeeded + run.failed
        dataset = self.settings.dataset
        state = run_state(run)
        return f"{run.file_name} · {dataset} · {done}/{run.total} · {state} · {started} · {run.id[:8]}"


def start_experiment(
    client: Bilan,
    dataset: str,
    variants: Sequence[VariantLike],
    *,
    name: str | None = None,
    concurrency: int = 8,
) -> ExperimentRun:
    """Check the variants against the dataset, compile every cell and store the run (nothing if refused)."""
    if isinstance(variants, str | bytes) or not isinstance(variants, Sequence) or not variants:
        raise ValueError("an experiment needs at least one variant (a list of variants)")
    contents = client.get_dataset(dataset)
    if not contents.items:
        raise ValueError(f"dataset {dataset!r} is empty: add items before running an experiment")
    default_model = resolve_model(None, client.settings).model
    specs = [
        variant_spec(variant, number=n, default_model=default_model) for n, variant in enumerate(variants, 1)
    ]
    settings = ExperimentSettings(
        dataset=contents.dataset.name, dataset_id=contents.dataset.id, variants=specs, concurrency=concurrency
    )
    for model in dict.fromkeys(spec.model for spec in specs):
        check_model(client, model)
    cells = experiment_cells(settings, contents.items)
    label = name or f"{contents.dataset.name} × {len(specs)} variants"
    return ExperimentRun(client, client.create_experiment_run(name=label, settings=settings, cells=cells))


def run_experiment(
    client: Bilan,
    dataset: str,
    variants: Sequence[VariantLike],
    *,
    name: str | None = None,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> ExperimentRun:
    """Store an experiment and answer every cell; returns the finished run."""
    started = start_experiment(client, dataset, variants, name=name, concurrency=concurrency)
    return resume_experiment(client, started.id, on_progress=on_progress)


def resume_experiment(
    client: Bilan,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> ExperimentRun:
    """Answer the cells of a stored experiment run still pending; returns the run as it ends."""
    ExperimentRun(client, client.get_batch_run(run_id))
    return ExperimentRun(client, run_batch(client, run_id, on_progress=on_progress, stop=stop))


def get_experiment(client: Bilan, run_id: str) -> ExperimentRun:
    """A stored experiment run; NotFoundError if there is none, ValueError for a batch run's id."""
    return ExperimentRun(client, client.get_batch_run(run_id))


def compare_runs(first: ExperimentRun, second: ExperimentRun, *, user_id: str | None = None) -> RunComparison:
    """Run A against run B: flipped verdicts (👍↔👎, check pass↔fail) and cost and latency deltas."""
    return compare_cells(first.cells(user_id=user_id), second.cells(user_id=user_id))


def pairwise_comparison(
    run: ExperimentRun, item: int, first: str, second: str, *, rng: random.Random | None = None
) -> Comparison:
    """A blind comparison of two variants' answers to one item, stored in the experiment's session."""
    if first == second:
        raise ValueError("pick two different variants to compare")
    cells = run.cells()
    pair = cells[(cells["item"] == item) & cells["variant"].isin([first, second])]
    answered = pair.dropna(subset=["prompt_id", "answer"])
    if len(answered) != 2:
        raise ValueError(f"item {item} does not have answers from both {first!r} and {second!r}")
    by_variant = {str(row.variant): row for row in answered.itertuples()}
    a_first = (rng or random.Random()).random() < 0.5
    side_a, side_b = (first, second) if a_first else (second, first)
    spec = {variant.name: variant for variant in run.settings.variants}
    client = run.client.with_identity(user_id=run.client.user_id, team_session=run.team_session)
    comparison = client.create_comparison(
        prompt=str(by_variant[first].input),
        variant_a={"model": spec[side_a].model, "label": side_a},
        variant_b={"model": spec[side_b].model, "label": side_b},
        blind=True,
        a_shown_first=a_first,
    )
    for side, variant in (("a", side_a), ("b", side_b)):
        client.attach_comparison_answer(
            comparison.id, side=side, prompt_id=str(by_variant[variant].prompt_id)
        )
    return client.get_comparison(comparison.id)
