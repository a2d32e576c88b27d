"""A/B comparisons: one prompt, two variants streamed side by side, a blind vote, the leaderboard.

The comparisons are stored through the client (``bilan_core.store.comparisons`` holds their SQL and
says what side A and side B mean), in the local database or on a Bilan server alike. This module keeps
the orchestration: the variants, their random order, both sides streamed at once, and the votes a
verdict implies.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from bilan_core.analytics.bradley_terry import (
    DEFAULT_BOOTSTRAP_ROUNDS,
    DEFAULT_SEED,
    Leaderboard,
    leaderboard,
)
from bilan_core.errors import ProviderError
from bilan_core.store.comparisons import (
    MAX_VARIANT_LABEL,
    SIDES,
    WINNERS,
    SideView,
    check_variant,
    validate_prompt,
    validate_side,
    validate_winner,
)
from bilan_core.store.models import Comparison

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

VERDICT_COLUMNS = ["label_a", "label_b", "winner", "decided_ms", "model_a", "model_b"]
SYSTEM_QUOTE_LENGTH = 24
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
        check_variant(asdict(self))

    @property
    def display_label(self) -> str:
        """The given name, or one built from the settings that tell variants apart (the system prompt by
        its opening words, which say more than a hash)."""
        if self.label:
            return self.label.strip()
        parts = [self.model]
        if self.temperature is not None:
            parts.append(f"t={self.temperature:g}")
        if self.prompt_version:
            parts.append(self.prompt_version)
        if self.system_prompt:
            parts.append(f"“{quote_start(self.system_prompt, SYSTEM_QUOTE_LENGTH)}”")
        return " · ".join(parts)[:MAX_VARIANT_LABEL]

    def describe(self) -> str:
        """Every setting of the variant on its own line, the system prompt whole (for a hover help)."""
        lines = [f"Model: {self.model}"]
        if self.temperature is not None:
            lines.append(f"Temperature: {self.temperature:g}")
        if self.prompt_version:
            lines.append(f"Prompt version: {self.prompt_version}")
        lines.append(f"System prompt: {self.system_prompt}" if self.system_prompt else "No system prompt")
        return "\n\n".join(lines)

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages this variant sends for a prompt."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]

    def as_dict(self) -> dict[str, Any]:
        """The variant as stored in the comparison row."""
        return asdict(self) | {"label": self.display_label}


def quote_start(text: str, length: int) -> str:
    """The first ``length`` characters of ``text`` on one line, with an ellipsis when it goes on."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def variant_from_dict(values: dict[str, Any]) -> Variant:
    """A variant back from its stored form."""
    return Variant(
        model=values.get("model", ""),
        system_prompt=values.get("system_prompt"),
        temperature=values.get("temperature"),
        prompt_version=values.get("prompt_version"),
        label=values.get("label"),
    )


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


VariantLike = Variant | str | Mapping[str, Any]
"""How a variant may be given: a ``Variant``, a model name, or a dict of ``Variant`` fields."""


def as_variant(value: VariantLike) -> Variant:
    """A Variant from a Variant, a model name, or a dict of Variant fields."""
    if isinstance(value, Variant):
        return value
    if isinstance(value, str):
        return Variant(model=value)
    if isinstance(value, Mapping):
        check_variant(value)
        return Variant(**value)
    raise ValueError(f"a variant is a Variant, a model name or a dict, got {type(value).__name__}")


def start_comparison(
    client: Bilan,
    prompt: str,
    first: VariantLike,
    second: VariantLike,
    *,
    blind: bool | None = None,
    rng: random.Random | None = None,
) -> Comparison:
    """Store a comparison; blind (the default in a team session) puts the variants in random order."""
    prompt = validate_prompt(prompt)
    first, second = as_variant(first), as_variant(second)
    blind = client.team_session is not None if blind is None else bool(blind)
    if blind:
        side_a, side_b, first_on_a = assign_sides(first, second, rng=rng)
    else:
        check_different(first, second)
        side_a, side_b, first_on_a = first, second, True
    return client.create_comparison(
        prompt=prompt,
        variant_a=side_a.as_dict(),
        variant_b=side_b.as_dict(),
        blind=blind,
        a_shown_first=first_on_a,
    )


def side_variants(comparison: Comparison) -> dict[str, Variant]:
    """The variant behind each side, from the stored comparison."""
    stored = {"a": comparison.variant_a, "b": comparison.variant_b}
    return {side: variant_from_dict(values or {}) for side, values in stored.items()}


def stream_comparison(
    client: Bilan,
    comparison_id: str,
    *,
    max_tokens: int | None = None,
    sides: Sequence[str] = SIDES,
) -> Generator[SidePiece, None, None]:
    """Stream the sides (both by default; one to retry it) at once, as pieces tagged with their side.

    Each side streams on its own thread and its answer is a recorded turn. A side that ends normally is
    linked to the comparison and ends with a ``finished`` piece carrying its ``prompt_id``; a failed side
    ends with its ``error``, its failed turn linked when there is one, so a verdict can still be given on
    what came back. Closing the iterator early stops every side (their turns are recorded as cancelled).
    """
    asked = [validate_side(side) for side in sides]
    comparison = client.get_comparison(comparison_id)
    if comparison.winner is not None:
        raise ValueError(f"comparison {comparison_id!r} was already decided ({comparison.winner})")
    variants = side_variants(comparison)
    pieces: queue.Queue[SidePiece] = queue.Queue()
    stop = threading.Event()
    for side in asked:
        runner = _SideRunner(client, comparison, side, variants[side], max_tokens, pieces, stop)
        threading.Thread(target=runner.run, name=f"bilan-compare-{side}", daemon=True).start()
    finished = 0
    try:
        while finished < len(asked):
            piece = pieces.get()
            finished += piece.finished
            yield piece
    finally:
        stop.set()


@dataclass(frozen=True)
class _SideRunner:
    """One side of a streamed comparison, answered on its own thread into the shared ``pieces``."""

    client: Bilan
    comparison: Comparison
    side: str
    variant: Variant
    max_tokens: int | None
    pieces: queue.Queue[SidePiece]
    stop: threading.Event

    def run(self) -> None:
        """Stream the side; end it with a ``finished`` piece carrying its prompt id or its error."""
        try:
            prompt_id = self._answer()
        except Exception as exc:  # the reader waits for both sides to end, so every failure must reach it
            self.pieces.put(SidePiece(self.side, finished=True, error=exc, prompt_id=self._link_failed(exc)))
            return
        if prompt_id is not None:
            self.pieces.put(SidePiece(self.side, finished=True, prompt_id=prompt_id))

    def _link_failed(self, error: Exception) -> str | None:
        """Link the failed call's turn (when it made one) to its side; its prompt id."""
        prompt_id = error.prompt_id if isinstance(error, ProviderError) else None
        if prompt_id is not None and not self.stop.is_set():
            self.client.attach_comparison_answer(self.comparison.id, side=self.side, prompt_id=prompt_id)
        return prompt_id

    def _answer(self) -> str | None:
        """Stream the answer into ``pieces`` and link its turn; None when stopped early."""
        variant = self.variant
        response = self.client.create_streaming_chat(
            variant.messages(self.comparison.prompt),
            model=variant.model,
            temperature=variant.temperature,
            max_tokens=self.max_tokens,
            variant=variant.prompt_version,
        )
        with response:
            for text in response.stream:
                if self.stop.is_set():
                    return None
                self.pieces.put(SidePiece(self.side, text))
        self.client.attach_comparison_answer(self.comparison.id, side=self.side, prompt_id=response.prompt_id)
        return response.prompt_id


def compare(
    client: Bilan,
    prompt: str,
    variant_a: VariantLike,
    variant_b: VariantLike,
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
    winner = validate_winner(winner)
    sides = client.comparison_view(comparison_id).sides
    allowed = verdict_choices(sides)
    if allowed and winner not in allowed:
        choices = ", ".join(allowed)
        raise ValueError(f"only one side answered: the verdict is one of {choices}, not {winner!r}")
    if not allowed and all(view.prompt_id for view in sides.values()):
        raise ValueError("neither side answered: retry a side before giving a verdict")
    row = client.decide_comparison(comparison_id, winner=winner, comment=comment)
    for side, value in zip(SIDES, IMPLIED_VOTES[winner], strict=True):
        prompt_id = sides[side].prompt_id
        if value is not None and prompt_id and sides[side].vote is None:
            client.vote(prompt_id, value)
    return row


def verdict_choices(sides: Mapping[str, SideView]) -> tuple[str, ...]:
    """The verdicts a comparison allows: any when both sides answered; when one failed, that side or
    "both bad" (a tie with a failure means nothing); none when neither answered."""
    answered = [side for side in SIDES if sides[side].answer is not None and sides[side].prompt_id]
    if len(answered) == len(SIDES):
        return WINNERS
    if answered and all(view.prompt_id for view in sides.values()):
        return (answered[0], "both_bad")
    return ()


def comparison_leaderboard(
    client: Bilan,
    *,
    since: datetime | int | None = None,
    team_session: str | None = None,
    min_votes: int | None = None,
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = DEFAULT_SEED,
) -> Leaderboard:
    """The Bradley–Terry leaderboard of the stored comparisons (minimum votes from the settings)."""
    decided = client.decided_comparisons(since=since, team_session=team_session)
    votes = pd.DataFrame([verdict.model_dump() for verdict in decided], columns=VERDICT_COLUMNS)
    threshold = client.settings.leaderboard_min_votes if min_votes is None else min_votes
    board = leaderboard(votes, min_votes=threshold, rounds=rounds, seed=seed)
    return replace(board, ratings=board.ratings.assign(model=variant_models(votes, board.ratings["variant"])))


def variant_models(votes: pd.DataFrame, variants: pd.Series) -> pd.Series:
    """The model behind each variant name (its newest verdict's), so a named variant keeps its model's
    colour on the charts; a variant stored before models were read is named after itself."""
    sides = [votes[[f"label_{side}", f"model_{side}"]].set_axis(["label", "model"], axis=1) for side in SIDES]
    known = pd.concat(sides).dropna(subset=["model"]).drop_duplicates("label", keep="last").set_index("label")
    return variants.map(known["model"]).fillna(variants)
