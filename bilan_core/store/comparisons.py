"""Comparisons' reads and writes (the ``comparisons`` table), each scoped to a project.

Side A and side B are what the voter sees. ``variant_a``/``label_a``/``prompt_id_a`` always
describe side A; which of the caller's two variants became side A is random, and
``a_shown_first`` records whether the caller's first variant landed there. A winner of ``a`` or
``b`` therefore names a side, and the stored labels say which variant that was.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from bilan_core.clock import now_ms
from bilan_core.limits import (
    MAX_LABEL_LENGTH,
    MAX_PROMPT_LENGTH,
    check_label,
    check_optional_label,
    check_storable,
)
from bilan_core.store.engine import session_scope
from bilan_core.store.models import Comparison, Turn, Vote
from bilan_core.store.project_rows import project_row
from bilan_core.store.votes import validate_comment

MAX_VARIANT_LABEL = 400
SIDES = ("a", "b")
WINNERS = ("a", "b", "tie", "both_bad")
ANSWERED = "ok"
VARIANT_FIELDS = ("model", "system_prompt", "temperature", "prompt_version", "label")


class NewComparison(BaseModel):
    """A comparison to store: who asks, the prompt, both variants (stored form, each with its label), how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    team_session: str | None = None
    prompt: str
    variant_a: dict[str, Any]
    variant_b: dict[str, Any]
    blind: bool
    a_shown_first: bool


class SideView(BaseModel):
    """What the Compare page shows for one side; ``label`` stays None until the variant may be revealed,
    ``answer`` None when the side failed."""

    model_config = ConfigDict(frozen=True)

    side: str
    prompt_id: str | None
    answer: str | None
    vote: int | None
    label: str | None
    latency_ms: float | None
    completion_tokens: int | None


class ComparisonView(BaseModel):
    """A stored comparison as one voter sees it: both answers, their votes, the verdict."""

    comparison: Comparison
    sides: dict[str, SideView]
    revealed: bool

    @property
    def can_decide(self) -> bool:
        """True when both sides answered and no verdict was given yet."""
        return self.comparison.winner is None and all(view.prompt_id for view in self.sides.values())


class DecidedComparison(BaseModel):
    """One verdict as the leaderboard reads it: the two labels (and their models), the winner and when."""

    label_a: str
    label_b: str
    winner: str
    decided_ms: int | None
    model_a: str | None = None
    model_b: str | None = None


def check_variant(values: Mapping[str, Any]) -> None:
    """Refuse a variant (its fields as a mapping) with an unknown field or a value that cannot be stored."""
    unknown = set(values) - set(VARIANT_FIELDS)
    if unknown:
        raise ValueError(f"unknown variant field(s): {', '.join(sorted(unknown))}")
    model = values.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("a variant needs a model name")
    _check_text("model", model, MAX_LABEL_LENGTH)
    _check_temperature(values.get("temperature"))
    _check_text("system_prompt", values.get("system_prompt"), MAX_PROMPT_LENGTH)
    _check_text("prompt_version", values.get("prompt_version"), MAX_LABEL_LENGTH)
    _check_text("label", values.get("label"), MAX_VARIANT_LABEL)


def _check_temperature(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise ValueError(f"temperature must be a number from 0 to 2, got {value!r}")


def _check_text(name: str, value: object, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"a variant's {name} must be non-empty text of at most {limit:,} characters")
    check_storable(f"a variant's {name}", value)


def _stored_variant(side: str, values: Mapping[str, Any]) -> dict[str, Any]:
    check_variant(values)
    if not values.get("label"):
        raise ValueError(f"side {side.upper()}'s variant needs its label")
    return dict(values)


def validate_prompt(prompt: object) -> str:
    """The prompt, refused if it is not non-empty text within the size limit."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt must be non-empty text")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise ValueError(f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT_LENGTH:,}")
    check_storable("the prompt", prompt)
    return prompt


def validate_winner(winner: object) -> str:
    """The winner if it is one of ``a``, ``b``, ``tie``, ``both_bad``."""
    if winner not in WINNERS:
        raise ValueError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}")
    return str(winner)


def validate_side(side: object) -> str:
    """The side if it is ``a`` or ``b``."""
    if side not in SIDES:
        raise ValueError(f"side must be 'a' or 'b', got {side!r}")
    return str(side)


def create_comparison(engine: Engine, *, project_id: int, new: NewComparison) -> Comparison:
    """Store a new, undecided comparison and return it."""
    side_a, side_b = _stored_variant("a", new.variant_a), _stored_variant("b", new.variant_b)
    row = Comparison(
        id=uuid.uuid4().hex,
        project_id=project_id,
        user_id=check_label("user_id", new.user_id),
        team_session=check_optional_label("team_session", new.team_session),
        prompt=validate_prompt(new.prompt),
        variant_a=side_a,
        variant_b=side_b,
        label_a=side_a["label"],
        label_b=side_b["label"],
        blind=new.blind,
        a_shown_first=new.a_shown_first,
        created_ms=now_ms(),
    )
    with session_scope(engine) as session:
        session.add(row)
    return row


def attach_answer(
    engine: Engine, *, project_id: int, comparison_id: str, side: str, prompt_id: str
) -> Comparison:
    """Link the turn that answered one side."""
    side = validate_side(side)
    with session_scope(engine) as session:
        row = project_row(session, Comparison, project_id, comparison_id)
        setattr(row, f"prompt_id_{side}", prompt_id)
        session.add(row)
    return row


def decide_comparison(
    engine: Engine, *, project_id: int, comparison_id: str, winner: str, comment: str | None = None
) -> Comparison:
    """Record the verdict on a comparison whose two answers exist; a verdict is given once."""
    winner = validate_winner(winner)
    comment = validate_comment(comment)
    with session_scope(engine) as session:
        row = project_row(session, Comparison, project_id, comparison_id)
        if not (row.prompt_id_a and row.prompt_id_b):
            raise ValueError(f"comparison {comparison_id!r} does not have both answers yet")
        # Once the variants are revealed a second verdict would no longer be blind.
        if row.winner is not None:
            raise ValueError(f"comparison {comparison_id!r} was already decided ({row.winner})")
        row.winner, row.comment, row.decided_ms = winner, comment, now_ms()
        session.add(row)
    return row


def get_comparison(engine: Engine, *, project_id: int, comparison_id: str) -> Comparison:
    """One comparison of the project; NotFoundError if it has none with that id."""
    with Session(engine) as session:
        return project_row(session, Comparison, project_id, comparison_id)


def decided_comparisons(
    engine: Engine, *, project_id: int, since_ms: int | None = None, team_session: str | None = None
) -> list[DecidedComparison]:
    """The project's verdicts, oldest first (from ``since_ms``, in one team session when given)."""
    # SQLAlchemy's select: SQLModel's typed one takes at most four columns.
    statement = sa_select(
        col(Comparison.label_a),
        col(Comparison.label_b),
        col(Comparison.winner),
        col(Comparison.decided_ms),
        col(Comparison.variant_a),
        col(Comparison.variant_b),
    ).where(col(Comparison.project_id) == project_id, col(Comparison.winner).is_not(None))
    if since_ms is not None:
        statement = statement.where(col(Comparison.decided_ms) >= since_ms)
    if team_session is not None:
        statement = statement.where(col(Comparison.team_session) == team_session)
    with Session(engine) as session:
        rows = session.execute(statement.order_by(col(Comparison.decided_ms))).all()
    return [
        DecidedComparison(
            label_a=label_a,
            label_b=label_b,
            winner=winner or "",
            decided_ms=decided_ms,
            model_a=(variant_a or {}).get("model"),
            model_b=(variant_b or {}).get("model"),
        )
        for label_a, label_b, winner, decided_ms, variant_a, variant_b in rows
    ]


def comparisons_version(engine: Engine, *, project_id: int) -> tuple[int, int]:
    """The number of decided comparisons and the newest verdict time: a cache key for the leaderboard."""
    statement = select(func.count(), func.max(Comparison.decided_ms)).where(
        col(Comparison.project_id) == project_id, col(Comparison.winner).is_not(None)
    )
    with Session(engine) as session:
        count, newest = session.exec(statement).one()
    return int(count), int(newest or 0)


def revealed(comparison: Comparison) -> bool:
    """Whether the variants may be shown: always in open mode, after the verdict in blind mode."""
    return not comparison.blind or comparison.winner is not None


def comparison_view(engine: Engine, *, project_id: int, comparison_id: str, user_id: str) -> ComparisonView:
    """A comparison with its two answers and ``user_id``'s votes, hiding the variants while blind."""
    comparison = get_comparison(engine, project_id=project_id, comparison_id=comparison_id)
    prompt_ids = {"a": comparison.prompt_id_a, "b": comparison.prompt_id_b}
    linked = [prompt_id for prompt_id in prompt_ids.values() if prompt_id]
    vote_of_user = and_(
        col(Vote.project_id) == col(Turn.project_id),
        col(Vote.prompt_id) == col(Turn.prompt_id),
        col(Vote.user_id) == user_id,
    )
    statement = (
        select(Turn, Vote.value)
        .outerjoin(Vote, vote_of_user)
        .where(col(Turn.project_id) == project_id, col(Turn.prompt_id).in_(linked))
    )
    with Session(engine) as session:
        answered = {turn.prompt_id: (turn, vote) for turn, vote in session.exec(statement).all()}
    shown = revealed(comparison)
    labels = {"a": comparison.label_a, "b": comparison.label_b}
    sides = {}
    for side, prompt_id in prompt_ids.items():
        turn, vote = answered.get(prompt_id or "", (None, None))
        sides[side] = SideView(
            side=side,
            prompt_id=prompt_id,
            # A failed call's turn is linked too (a verdict can judge what came back), but is no answer.
            answer=turn.response if turn and turn.status == ANSWERED else None,
            vote=vote,
            label=labels[side] if shown else None,
            latency_ms=turn.latency_ms if turn and shown else None,
            completion_tokens=turn.completion_tokens if turn and shown else None,
        )
    return ComparisonView(comparison=comparison, sides=sides, revealed=shown)
