"""A/B comparisons: one prompt, two variants, a blind vote; stored in ``comparisons``.

Side A and side B are what the voter sees. ``variant_a``/``label_a``/``prompt_id_a`` always
describe side A; which of the caller's two variants became side A is random, and
``a_shown_first`` records whether the caller's first variant landed there. A winner of ``a`` or
``b`` therefore names a side, and the stored labels say which variant that was.
"""

from __future__ import annotations

import hashlib
import queue
import random
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from bilan_core.clock import now_ms, to_ms
from bilan_core.errors import ConfigurationError, NotFoundError
from bilan_core.experiments.bradley_terry import (
    DEFAULT_BOOTSTRAP_ROUNDS,
    DEFAULT_SEED,
    WINNERS,
    Leaderboard,
    leaderboard,
)
from bilan_core.store.engine import session_scope
from bilan_core.store.models import LOCAL_PROJECT, Comparison, Turn
from bilan_core.store.votes import validate_comment, votes_by_prompt

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

MAX_PROMPT_CHARS = 100_000
MAX_LABEL_CHARS = 400
MAX_VERSION_CHARS = 200
SIDES = ("a", "b")
# What a verdict says about each side on its own, as 👍 (1) / 👎 (-1) votes on the two turns.
IMPLIED_VOTES: dict[str, tuple[int | None, int | None]] = {
    "a": (1, -1),
    "b": (-1, 1),
    "both_bad": (-1, -1),
    "tie": (None, None),
}


@dataclass(frozen=True, kw_only=True)
class Variant:
    """What one side of a comparison runs: a model, a system prompt, a temperature, a version label."""

    model: str
    system_prompt: str | None = None
    temperature: float | None = None
    prompt_version: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("a variant needs a model name")
        _check_temperature(self.temperature)
        _check_text("system_prompt", self.system_prompt, MAX_PROMPT_CHARS)
        _check_text("prompt_version", self.prompt_version, MAX_VERSION_CHARS)
        _check_text("label", self.label, MAX_LABEL_CHARS)

    @property
    def display_label(self) -> str:
        """The given label, or one built from the settings that tell variants apart."""
        if self.label:
            return self.label.strip()
        parts = [self.model]
        if self.temperature is not None:
            parts.append(f"t={self.temperature:g}")
        if self.prompt_version:
            parts.append(self.prompt_version)
        if self.system_prompt:
            parts.append(f"system {hashlib.sha256(self.system_prompt.encode()).hexdigest()[:6]}")
        return " · ".join(parts)[:MAX_LABEL_CHARS]

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages this variant sends for a prompt."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]

    def as_dict(self) -> dict[str, Any]:
        """The variant as stored in the comparison row."""
        return asdict(self) | {"label": self.display_label}


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


def variant_from_dict(values: dict[str, Any]) -> Variant:
    """A variant back from its stored form."""
    return Variant(
        **{
            key: values.get(key)
            for key in ("model", "system_prompt", "temperature", "prompt_version", "label")
        }
    )


def validate_prompt(prompt: object) -> str:
    """The prompt, refused if it is not non-empty text within the size limit."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt must be non-empty text")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    return prompt


def validate_winner(winner: object) -> str:
    """The winner if it is one of ``a``, ``b``, ``tie``, ``both_bad``."""
    if winner not in WINNERS:
        raise ValueError(f"winner must be one of {', '.join(WINNERS)}, got {winner!r}")
    return str(winner)


def check_different(first: Variant, second: Variant) -> None:
    """Refuse two variants that would show up under the same label."""
    if first.display_label == second.display_label:
        raise ValueError(f"both variants are {first.display_label!r}; compare two different variants")


def assign_sides(
    first: Variant, second: Variant, *, rng: random.Random | None = None
) -> tuple[Variant, Variant, bool]:
    """Side A, side B, and whether the first variant is side A; the order is random."""
    check_different(first, second)
    first_on_a = (rng or random.SystemRandom()).random() < 0.5
    return (first, second, True) if first_on_a else (second, first, False)


def create_comparison(
    engine: Engine,
    *,
    user_id: str,
    prompt: str,
    side_a: Variant,
    side_b: Variant,
    first_on_a: bool,
    blind: bool,
    team_session: str | None = None,
    project_id: int = LOCAL_PROJECT,
) -> Comparison:
    """Store a new, undecided comparison and return it."""
    row = Comparison(
        id=uuid.uuid4().hex,
        project_id=project_id,
        user_id=user_id,
        team_session=team_session,
        prompt=validate_prompt(prompt),
        variant_a=side_a.as_dict(),
        variant_b=side_b.as_dict(),
        label_a=side_a.display_label,
        label_b=side_b.display_label,
        blind=blind,
        a_shown_first=first_on_a,
        created_ms=now_ms(),
    )
    with session_scope(engine) as session:
        session.add(row)
    return row


def attach_answer(engine: Engine, *, comparison_id: str, side: str, prompt_id: str) -> Comparison:
    """Link the turn that answered one side."""
    if side not in SIDES:
        raise ValueError(f"side must be 'a' or 'b', got {side!r}")
    with session_scope(engine) as session:
        row = _load(session, comparison_id)
        setattr(row, f"prompt_id_{side}", prompt_id)
        session.add(row)
    return row


def decide_comparison(
    engine: Engine, *, comparison_id: str, winner: str, comment: str | None = None
) -> Comparison:
    """Record the verdict on a comparison whose two answers exist; a verdict is given once."""
    winner = validate_winner(winner)
    comment = validate_comment(comment)
    with session_scope(engine) as session:
        row = _load(session, comparison_id)
        if not (row.prompt_id_a and row.prompt_id_b):
            raise ValueError(f"comparison {comparison_id!r} does not have both answers yet")
        # Once the variants are revealed a second verdict would no longer be blind.
        if row.winner is not None:
            raise ValueError(f"comparison {comparison_id!r} was already decided ({row.winner})")
        row.winner, row.comment, row.decided_ms = winner, comment, now_ms()
        session.add(row)
    return row


def get_comparison(engine: Engine, *, comparison_id: str) -> Comparison:
    """One comparison; NotFoundError if there is none with that id."""
    with Session(engine) as session:
        return _load(session, comparison_id)


def _load(session: Session, comparison_id: str) -> Comparison:
    row = session.get(Comparison, comparison_id) if isinstance(comparison_id, str) else None
    if row is None:
        raise NotFoundError(f"no comparison has id {comparison_id!r}")
    return row


def comparison_votes(
    engine: Engine,
    *,
    since: Any = None,
    team_session: str | None = None,
    project_id: int = LOCAL_PROJECT,
) -> pd.DataFrame:
    """Decided comparisons as ``label_a``, ``label_b``, ``winner`` (and when), for the leaderboard."""
    statement = select(
        Comparison.label_a, Comparison.label_b, Comparison.winner, Comparison.decided_ms
    ).where(col(Comparison.project_id) == project_id, col(Comparison.winner).is_not(None))
    if since is not None:
        statement = statement.where(col(Comparison.decided_ms) >= to_ms(since))
    if team_session is not None:
        statement = statement.where(col(Comparison.team_session) == team_session)
    with Session(engine) as session:
        rows = session.exec(statement.order_by(col(Comparison.decided_ms))).all()
    return pd.DataFrame(rows, columns=["label_a", "label_b", "winner", "decided_ms"])


def comparisons_version(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> tuple[int, int]:
    """The number of decided comparisons and the newest verdict time: a cache key for the leaderboard."""
    statement = select(func.count(), func.max(Comparison.decided_ms)).where(
        col(Comparison.project_id) == project_id, col(Comparison.winner).is_not(None)
    )
    with Session(engine) as session:
        count, newest = session.exec(statement).one()
    return int(count), int(newest or 0)


@dataclass(frozen=True)
class SidePiece:
    """One event of a streamed comparison: a piece of one side's answer, or the end of that side."""

    side: str
    text: str = ""
    finished: bool = False
    prompt_id: str | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class ComparisonResult:
    """Both answers of a finished comparison, by side, and the id to record the preference on."""

    comparison_id: str
    blind: bool
    answer_a: str
    answer_b: str
    prompt_id_a: str
    prompt_id_b: str
    variant_a: Variant
    variant_b: Variant


def as_variant(value: Variant | str | Mapping[str, Any]) -> Variant:
    """A Variant from a Variant, a model name, or a dict of Variant fields."""
    if isinstance(value, Variant):
        return value
    if isinstance(value, str):
        return Variant(model=value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"model", "system_prompt", "temperature", "prompt_version", "label"}
        if unknown:
            raise ValueError(f"unknown variant field(s): {', '.join(sorted(unknown))}")
        return Variant(**value)
    raise ValueError(f"a variant is a Variant, a model name or a dict, got {type(value).__name__}")


def comparisons_engine(client: Bilan) -> Engine:
    """The client's database; comparisons are stored locally, so server mode is refused."""
    if client.engine is None:
        raise ConfigurationError("comparisons are stored in the local database; they need local mode")
    return client.engine


def start_comparison(
    client: Bilan,
    prompt: str,
    first: Variant | str | Mapping[str, Any],
    second: Variant | str | Mapping[str, Any],
    *,
    blind: bool | None = None,
    rng: random.Random | None = None,
) -> Comparison:
    """Store a comparison; blind (the default in a team session) puts the variants in random order."""
    engine = comparisons_engine(client)
    prompt = validate_prompt(prompt)
    first, second = as_variant(first), as_variant(second)
    blind = client.team_session is not None if blind is None else bool(blind)
    if blind:
        side_a, side_b, first_on_a = assign_sides(first, second, rng=rng)
    else:
        check_different(first, second)
        side_a, side_b, first_on_a = first, second, True
    return create_comparison(
        engine,
        user_id=client.user_id,
        prompt=prompt,
        side_a=side_a,
        side_b=side_b,
        first_on_a=first_on_a,
        blind=blind,
        team_session=client.team_session,
    )


def side_variants(comparison: Comparison) -> dict[str, Variant]:
    """The variant behind each side, from the stored comparison."""
    stored = {"a": comparison.variant_a, "b": comparison.variant_b}
    return {side: variant_from_dict(values or {}) for side, values in stored.items()}


def stream_comparison(
    client: Bilan, comparison_id: str, *, max_tokens: int | None = None
) -> Iterator[SidePiece]:
    """Stream both sides at once, as pieces tagged with their side; each answer is a recorded turn.

    Each side streams on its own thread. A side that ends normally is linked to the comparison and
    ends with a ``finished`` piece carrying its ``prompt_id``; a failed side ends with its ``error``.
    Closing the iterator early stops both sides (their turns are recorded as cancelled).
    """
    engine = comparisons_engine(client)
    comparison = get_comparison(engine, comparison_id=comparison_id)
    pieces: queue.Queue[SidePiece] = queue.Queue()
    stop = threading.Event()
    for side, variant in side_variants(comparison).items():
        threading.Thread(
            target=_stream_side,
            args=(client, engine, comparison, side, variant, max_tokens, pieces, stop),
            name=f"bilan-compare-{side}",
            daemon=True,
        ).start()
    finished = 0
    try:
        while finished < len(SIDES):
            piece = pieces.get()
            finished += piece.finished
            yield piece
    finally:
        stop.set()


def _stream_side(
    client: Bilan,
    engine: Engine,
    comparison: Comparison,
    side: str,
    variant: Variant,
    max_tokens: int | None,
    pieces: queue.Queue[SidePiece],
    stop: threading.Event,
) -> None:
    try:
        prompt_id = _answer_side(client, engine, comparison, side, variant, max_tokens, pieces, stop)
    except Exception as exc:  # the reader waits for both sides to end, so every failure must reach it
        pieces.put(SidePiece(side, finished=True, error=exc))
        return
    if prompt_id is not None:
        pieces.put(SidePiece(side, finished=True, prompt_id=prompt_id))


def _answer_side(
    client: Bilan,
    engine: Engine,
    comparison: Comparison,
    side: str,
    variant: Variant,
    max_tokens: int | None,
    pieces: queue.Queue[SidePiece],
    stop: threading.Event,
) -> str | None:
    """Stream one side into ``pieces`` and link its turn; None when stopped early."""
    response = client.create_streaming_chat(
        variant.messages(comparison.prompt),
        model=variant.model,
        temperature=variant.temperature,
        max_tokens=max_tokens,
        variant=variant.prompt_version,
    )
    with response:
        for text in response.stream:
            if stop.is_set():
                return None
            pieces.put(SidePiece(side, text))
    attach_answer(engine, comparison_id=comparison.id, side=side, prompt_id=response.prompt_id)
    return response.prompt_id


def compare(
    client: Bilan,
    prompt: str,
    variant_a: Variant | str | Mapping[str, Any],
    variant_b: Variant | str | Mapping[str, Any],
    *,
    blind: bool | None = None,
    max_tokens: int | None = None,
    rng: random.Random | None = None,
) -> ComparisonResult:
    """Ask both variants the same prompt at once and store the comparison; raises a side's error."""
    comparison = start_comparison(client, prompt, variant_a, variant_b, blind=blind, rng=rng)
    texts: dict[str, list[str]] = {side: [] for side in SIDES}
    prompt_ids: dict[str, str] = {}
    with closing(stream_comparison(client, comparison.id, max_tokens=max_tokens)) as pieces:
        for piece in pieces:
            if piece.error is not None:
                raise piece.error
            texts[piece.side].append(piece.text)
            if piece.prompt_id:
                prompt_ids[piece.side] = piece.prompt_id
    variants = side_variants(comparison)
    return ComparisonResult(
        comparison_id=comparison.id,
        blind=comparison.blind,
        answer_a="".join(texts["a"]),
        answer_b="".join(texts["b"]),
        prompt_id_a=prompt_ids["a"],
        prompt_id_b=prompt_ids["b"],
        variant_a=variants["a"],
        variant_b=variants["b"],
    )


def record_preference(
    client: Bilan, comparison_id: str, winner: str, comment: str | None = None
) -> Comparison:
    """Record which side won (``a``, ``b``, ``tie``, ``both_bad``) and the votes it implies.

    The winner gets a 👍 and the loser a 👎 (both 👎 for ``both_bad``, none for a tie), as ordinary
    votes of this user on the two turns, so the per-model analytics count them; a side this user
    already rated keeps its own vote.
    """
    engine = comparisons_engine(client)
    row = decide_comparison(engine, comparison_id=comparison_id, winner=winner, comment=comment)
    prompt_ids = [row.prompt_id_a, row.prompt_id_b]
    already = votes_by_prompt(engine, prompt_ids=[pid for pid in prompt_ids if pid], user_id=client.user_id)
    for prompt_id, value in zip(prompt_ids, IMPLIED_VOTES[winner], strict=True):
        if value is not None and prompt_id and prompt_id not in already:
            client.vote(prompt_id, value)
    return row


def comparison_leaderboard(
    client: Bilan,
    *,
    since: Any = None,
    team_session: str | None = None,
    min_votes: int | None = None,
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = DEFAULT_SEED,
) -> Leaderboard:
    """The Bradley–Terry leaderboard of the stored comparisons (minimum votes from the settings)."""
    votes = comparison_votes(comparisons_engine(client), since=since, team_session=team_session)
    threshold = client.settings.leaderboard_min_votes if min_votes is None else min_votes
    return leaderboard(votes, min_votes=threshold, rounds=rounds, seed=seed)


def revealed(comparison: Comparison) -> bool:
    """Whether the variants may be shown: always in open mode, after the verdict in blind mode."""
    return not comparison.blind or comparison.winner is not None


@dataclass(frozen=True)
class SideView:
    """What the Compare page shows for one side; the variant stays None until it may be revealed."""

    side: str
    prompt_id: str | None
    answer: str | None
    vote: int | None
    variant: Variant | None
    latency_ms: float | None
    completion_tokens: int | None


@dataclass(frozen=True)
class ComparisonView:
    """A stored comparison as one voter sees it: both answers, their votes, the verdict."""

    comparison: Comparison
    sides: dict[str, SideView]
    revealed: bool

    @property
    def can_decide(self) -> bool:
        """True when both sides answered and no verdict was given yet."""
        return self.comparison.winner is None and all(view.prompt_id for view in self.sides.values())


def comparison_view(engine: Engine, *, comparison_id: str, user_id: str) -> ComparisonView:
    """A comparison with its two answers and ``user_id``'s votes, hiding the variants while blind."""
    comparison = get_comparison(engine, comparison_id=comparison_id)
    prompt_ids = {"a": comparison.prompt_id_a, "b": comparison.prompt_id_b}
    linked = [prompt_id for prompt_id in prompt_ids.values() if prompt_id]
    with Session(engine) as session:
        answered = session.exec(
            select(Turn).where(col(Turn.project_id) == comparison.project_id, col(Turn.prompt_id).in_(linked))
        ).all()
    turns = {turn.prompt_id: turn for turn in answered}
    user_votes = votes_by_prompt(engine, prompt_ids=linked, user_id=user_id, project_id=comparison.project_id)
    shown = revealed(comparison)
    variants = side_variants(comparison)
    sides = {}
    for side, prompt_id in prompt_ids.items():
        turn = turns.get(prompt_id or "")
        vote = user_votes.get(prompt_id or "")
        sides[side] = SideView(
            side=side,
            prompt_id=prompt_id,
            answer=turn.response if turn else None,
            vote=vote.value if vote else None,
            variant=variants[side] if shown else None,
            latency_ms=turn.latency_ms if turn and shown else None,
            completion_tokens=turn.completion_tokens if turn and shown else None,
        )
    return ComparisonView(comparison=comparison, sides=sides, revealed=shown)
