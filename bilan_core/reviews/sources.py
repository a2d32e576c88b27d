"""Which recorded answers a review session rates: explicit prompt ids, an analytics filter (sampled),
or an experiment run (single answers, or pairs of variants' answers to the same dataset item).

Sampling is random but seeded, so the same source and seed always give the same items. A filter may
also keep only turns by their feedback: ``up`` (a 👍), ``down`` (a 👎) or ``unrated`` (no vote).
"""

from __future__ import annotations

import dataclasses
import random
from itertools import combinations
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, and_, exists, not_, or_, select
from sqlalchemy.sql import ColumnElement

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.errors import EmptyReviewSourceError, UnknownPromptError
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.store.batch_runs import EXPERIMENT, OK, get_batch_run
from bilan_core.store.models import BATCH_ITEMS, TURNS, VOTES, Turn
from bilan_core.store.review_models import NewReviewItem
from bilan_core.store.reviews import MAX_REVIEW_ITEMS

FEEDBACK = ("up", "down", "unrated")
MAX_SAMPLE = MAX_REVIEW_ITEMS


class ReviewSource(BaseModel):
    """Where a session's items come from: exactly one of ``prompt_ids``, ``run_id`` or ``filter``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    prompt_ids: tuple[str, ...] | None = Field(None, max_length=MAX_REVIEW_ITEMS)
    run_id: str | None = Field(None, min_length=1, max_length=64)
    filter: dict[str, Any] | None = None
    feedback: tuple[str, ...] = ()
    sample: int | None = Field(None, ge=1, le=MAX_SAMPLE)
    seed: int = 0
    pairwise: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ReviewSource:
        given = [name for name in ("prompt_ids", "run_id", "filter") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one source: prompt_ids, run_id or filter")
        if self.pairwise and self.run_id is None:
            raise ValueError("a pairwise session compares an experiment run's variants: give run_id")
        unknown = sorted(set(self.feedback) - set(FEEDBACK))
        if unknown:
            raise ValueError(f"feedback takes {', '.join(FEEDBACK)}, got {', '.join(map(repr, unknown))}")
        if self.feedback and self.filter is None:
            raise ValueError("feedback selects turns of a filter: give filter as well")
        if self.prompt_ids is not None and any(
            not isinstance(one, str) or not one or len(one) > MAX_LABEL_LENGTH for one in self.prompt_ids
        ):
            raise ValueError(f"each prompt id must be text of 1 to {MAX_LABEL_LENGTH} characters")
        return self


def filter_fields(where: AnalyticsFilter) -> dict[str, Any]:
    """An analytics filter as a source's ``filter`` (the project is the caller's, not the filter's)."""
    fields = dataclasses.asdict(where)
    fields.pop("project_id")
    return {name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()}


def source_items(engine: Engine, *, project_id: int, source: ReviewSource) -> list[NewReviewItem]:
    """The items a source gives, sampled when asked; EmptyReviewSourceError when none matches."""
    if source.run_id is not None:
        items = _run_items(engine, project_id, source)
    elif source.prompt_ids is not None:
        items = [
            NewReviewItem(prompt_id=prompt_id) for prompt_id in _known_prompt_ids(engine, project_id, source)
        ]
    else:
        items = [
            NewReviewItem(prompt_id=prompt_id)
            for prompt_id in _filtered_prompt_ids(engine, project_id, source)
        ]
    if not items:
        raise EmptyReviewSourceError(
            "no recorded answer matches the source: the session would have nothing to rate"
        )
    if source.sample is not None and source.sample < len(items):
        items = random.Random(source.seed).sample(items, source.sample)
    return items


def _known_prompt_ids(engine: Engine, project_id: int, source: ReviewSource) -> list[str]:
    wanted = list(dict.fromkeys(source.prompt_ids or ()))
    statement = select(TURNS.c.prompt_id).where(
        TURNS.c.project_id == project_id, TURNS.c.prompt_id.in_(wanted)
    )
    with engine.connect() as connection:
        found = set(connection.execute(statement).scalars())
    missing = [prompt_id for prompt_id in wanted if prompt_id not in found]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" …" if len(missing) > 5 else "")
        raise UnknownPromptError(f"{len(missing)} prompt id(s) name no recorded answer: {shown}")
    return wanted


def _filtered_prompt_ids(engine: Engine, project_id: int, source: ReviewSource) -> list[str]:
    try:
        where = AnalyticsFilter(**(source.filter or {}), project_id=project_id)
    except TypeError as exc:
        raise ValueError(f"the filter is not an analytics filter: {exc}") from None
    statement = (
        select(TURNS.c.prompt_id)
        .where(*where.conditions(Turn), TURNS.c.status == "ok", TURNS.c.response.is_not(None))
        .order_by(TURNS.c.created_ms, TURNS.c.prompt_id)
    )
    if source.feedback:
        statement = statement.where(or_(*(_feedback_condition(project_id, kind) for kind in source.feedback)))
    with engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def _feedback_condition(project_id: int, kind: str) -> ColumnElement[bool]:
    on_turn = and_(VOTES.c.project_id == project_id, VOTES.c.prompt_id == TURNS.c.prompt_id)
    if kind == "unrated":
        return not_(exists().where(on_turn))
    return exists().where(on_turn, VOTES.c.value == (1 if kind == "up" else -1))


def _run_items(engine: Engine, project_id: int, source: ReviewSource) -> list[NewReviewItem]:
    run = get_batch_run(engine, project_id=project_id, run_id=source.run_id or "")
    if run.kind != EXPERIMENT:
        raise ValueError(f"run {run.id!r} is a batch run, not an experiment run")
    names = [variant["name"] for variant in (run.settings or {}).get("variants", [])]
    statement = (
        select(BATCH_ITEMS.c.prompt_id, BATCH_ITEMS.c.item_metadata)
        .where(
            BATCH_ITEMS.c.run_id == run.id, BATCH_ITEMS.c.status == OK, BATCH_ITEMS.c.prompt_id.is_not(None)
        )
        .order_by(BATCH_ITEMS.c.position)
    )
    with engine.connect() as connection:
        cells = [(row.prompt_id, row.item_metadata or {}) for row in connection.execute(statement)]
    answers: dict[int, dict[int, str]] = {}
    for prompt_id, cell in cells:
        answers.setdefault(int(cell["item"]), {})[int(cell["variant"])] = prompt_id
    if not source.pairwise:
        return [
            NewReviewItem(prompt_id=prompt_id, variant=_name(names, variant), dataset_position=item)
            for item, by_variant in sorted(answers.items())
            for variant, prompt_id in sorted(by_variant.items())
        ]
    return _pairs(answers, names, random.Random(source.seed))


def _pairs(answers: dict[int, dict[int, str]], names: list[str], rng: random.Random) -> list[NewReviewItem]:
    """Every pair of variants' answers to each dataset item, each side placed at random (seeded)."""
    pairs = []
    for item, by_variant in sorted(answers.items()):
        for first, second in combinations(sorted(by_variant), 2):
            if rng.random() < 0.5:
                first, second = second, first
            pairs.append(
                NewReviewItem(
                    prompt_id=by_variant[first],
                    prompt_id_b=by_variant[second],
                    variant=_name(names, first),
                    variant_b=_name(names, second),
                    dataset_position=item,
                )
            )
    return pairs


def _name(names: list[str], index: int) -> str | None:
    return names[index] if index < len(names) else None
