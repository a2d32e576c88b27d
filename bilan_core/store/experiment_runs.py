"""Experiment runs: a dataset × variants stored as a run of kind ``experiment`` (``batch_runs``).

An experiment is resumed, counted and answered like a batch run; each of its items is one cell (one
dataset item asked of one variant) whose metadata holds the item's position, the variant's index, the
exact messages to send (compiled when the run is stored) and the item's ``expected``. The run's
``settings`` hold the dataset, the variants and the concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine

from bilan_core.limits import MAX_LABEL_LENGTH, check_label
from bilan_core.store.batch_runs import EXPERIMENT, MAX_CONCURRENCY, BatchOptions, NewBatchItem, store_run
from bilan_core.store.checks import parse_check
from bilan_core.store.models import BatchRun

MAX_VARIANTS = 20
PARAMETERS = ("temperature", "max_tokens", "top_p", "seed")


class VariantSpec(BaseModel):
    """A variant as stored: its name, model, parameters and free messages or prompt version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    model: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    params: dict[str, Any] = {}
    messages: list[dict[str, str]] | None = None
    prompt: dict[str, Any] | None = None

    @field_validator("params")
    @classmethod
    def _known_parameters(cls, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise ValueError(
                f"unknown parameter {', '.join(unknown)}; a variant takes {', '.join(PARAMETERS)}"
            )
        BatchOptions(
            model="check", temperature=params.get("temperature"), max_tokens=params.get("max_tokens")
        )
        return params


class ExperimentSettings(BaseModel):
    """What an experiment run asks: the dataset, the variants (unique names) and the concurrency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    dataset_id: str = Field(min_length=1, max_length=64)
    variants: list[VariantSpec]
    concurrency: int = Field(8, ge=1, le=MAX_CONCURRENCY)

    @model_validator(mode="after")
    def _distinct_variants(self) -> ExperimentSettings:
        if not self.variants:
            raise ValueError("an experiment needs at least one variant")
        if len(self.variants) > MAX_VARIANTS:
            raise ValueError(f"an experiment takes at most {MAX_VARIANTS} variants, got {len(self.variants)}")
        names = [variant.name for variant in self.variants]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"two variants are named {', '.join(map(repr, repeated))}; give each its own name"
            )
        return self


class Cell(BaseModel):
    """One cell's metadata: which item and variant, the messages to send and the item's ``expected``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: int = Field(ge=0)
    variant: int = Field(ge=0)
    messages: list[dict[str, str]] = Field(min_length=1)
    expected: Any = None


def create_experiment_run(
    engine: Engine,
    *,
    project_id: int,
    user_id: str,
    name: str,
    settings: ExperimentSettings,
    cells: Sequence[NewBatchItem],
) -> BatchRun:
    """Store an experiment run and all of its cells in one transaction (nothing if one is refused)."""
    if not cells:
        raise ValueError(f"dataset {settings.dataset!r} is empty: add items before running an experiment")
    for number, cell in enumerate(cells, start=1):
        parsed = Cell.model_validate(cell.metadata)
        if parsed.variant >= len(settings.variants):
            raise ValueError(
                f"cell {number} names variant {parsed.variant}, which the experiment does not have"
            )
        parse_check(parsed.expected)
    return store_run(
        engine,
        project_id=project_id,
        user_id=check_label("user_id", user_id),
        label=check_label("name", name),
        items=cells,
        settings=settings.model_dump(),
        kind=EXPERIMENT,
    )
