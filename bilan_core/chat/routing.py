"""Adaptive model selection: switch to a stronger model while the default one is not trusted.

The rule: use the default model unless its trust score over the last ``window_days`` is below
``threshold`` with at least ``min_votes`` votes; then use the stronger model. Each decision carries
its reason in words and is stored on the turn it routed (``turns.route``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Protocol, Unpack

from bilan_core.analytics.stats import Stats, StatsFilters
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.settings import BilanSettings

AUTO_MODEL = "auto"


class StatsSource(Protocol):
    """Anything with ``get_stats(model=..., since=...)``, such as ``Bilan``."""

    def get_stats(self, **filters: Unpack[StatsFilters]) -> Stats:
        """Trust figures for the filters (routing asks for one model since a moment)."""


@dataclass(frozen=True, kw_only=True)
class RoutingPolicy:
    """Which models to route between, and when to switch."""

    default_model: str
    strong_model: str
    threshold: float = 0.7
    window_days: float = 7.0
    min_votes: int = 20

    def __post_init__(self) -> None:
        if not self.default_model or not self.strong_model:
            raise ValueError("a routing policy needs a default model and a stronger model")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"the trust threshold must be between 0 and 1, got {self.threshold}")
        if self.window_days <= 0:
            raise ValueError(f"the window must be more than 0 days, got {self.window_days}")
        if self.min_votes < 1:
            raise ValueError(f"the minimum number of votes must be at least 1, got {self.min_votes}")


@dataclass(frozen=True, kw_only=True)
class RouteDecision:
    """The model chosen, why, and the figures the choice rested on."""

    model: str
    reason: str
    default_model: str
    strong_model: str
    trust_score: float | None
    votes: int
    threshold: float
    window_days: float
    min_votes: int
    decided_ms: int

    @property
    def switched(self) -> bool:
        """True when the stronger model was chosen."""
        return self.model != self.default_model

    def as_dict(self) -> dict[str, Any]:
        """The decision as stored in ``turns.route``."""
        return asdict(self)


def policy_from_settings(settings: BilanSettings) -> RoutingPolicy:
    """The policy the settings describe (``BILAN_ROUTE_*``).

    Without ``BILAN_ROUTE_STRONG_MODEL`` the stronger model is the next configured model; the offline
    demo model has none (no other model answers offline), so it then stays the model.
    """
    default = settings.chat_model
    others = [] if settings.uses_demo_model else [name for name in settings.models if name != default]
    strong = settings.route_strong_model or next(iter(others), default)
    return RoutingPolicy(
        default_model=default,
        strong_model=strong,
        threshold=settings.route_threshold,
        window_days=settings.route_window_days,
        min_votes=settings.route_min_votes,
    )


class ModelChoice(NamedTuple):
    """The model a call uses, and the routing decision behind it for ``turns.route`` (or None)."""

    model: str
    route: dict[str, Any] | None


def needs_routing(requested: object) -> bool:
    """True when the model asked for is ``"auto"``: the routing policy picks it (a database read)."""
    return requested == AUTO_MODEL


def resolve_model(
    requested: str | None,
    settings: BilanSettings,
    *,
    route: dict[str, Any] | None = None,
    decide: Callable[[], RouteDecision] | None = None,
) -> ModelChoice:
    """The model a call uses: the configured default when none is asked for, the routing policy's pick
    (``decide``) for ``"auto"``, else the model asked for; ``route`` is kept unless routing decides.

    Without ``decide``, ``"auto"`` stays as asked, to be routed call by call when the calls are made.
    """
    if requested is None:
        return ModelChoice(settings.chat_model, route)
    if not needs_routing(requested) or decide is None:
        return ModelChoice(requested, route)
    if route is not None:
        raise ValueError("model='auto' stores its own routing decision; do not pass route= with it")
    decision = decide()
    return ModelChoice(decision.model, decision.as_dict())


def choose_model(source: StatsSource, policy: RoutingPolicy, *, at_ms: int | None = None) -> RouteDecision:
    """Apply the policy to the default model's recent trust figures."""
    moment = now_ms() if at_ms is None else at_ms
    since = moment - int(policy.window_days * MS_PER_DAY)
    stats = source.get_stats(model=policy.default_model, since=since)
    trust, votes = stats.trust_score, stats.total_votes
    switch = trust is not None and votes >= policy.min_votes and trust < policy.threshold
    return RouteDecision(
        model=policy.strong_model if switch else policy.default_model,
        reason=_reason(policy, trust, votes, switch),
        default_model=policy.default_model,
        strong_model=policy.strong_model,
        trust_score=trust,
        votes=votes,
        threshold=policy.threshold,
        window_days=policy.window_days,
        min_votes=policy.min_votes,
        decided_ms=moment,
    )


def _reason(policy: RoutingPolicy, trust: float | None, votes: int, switch: bool) -> str:
    window = f"the last {policy.window_days:g} days"
    default = policy.default_model
    if votes < policy.min_votes or trust is None:
        return (
            f"{default} has {votes} vote(s) in {window}, fewer than the {policy.min_votes} needed "
            f"to judge it, so it stays the model"
        )
    figures = f"trust {trust:.2f} over {votes} votes in {window}"
    if switch and policy.strong_model == default:
        return (
            f"{default} has {figures}, below {policy.threshold:.2f}, but no stronger model is configured "
            f"(BILAN_ROUTE_STRONG_MODEL), so it stays the model"
        )
    if switch:
        return f"{default} has {figures}, below {policy.threshold:.2f}, so {policy.strong_model} answers"
    return f"{default} has {figures}, at or above {policy.threshold:.2f}, so it stays the model"


def describe_route(route: dict[str, Any]) -> str:
    """One line for a stored routing decision: which model answered and why."""
    model = route.get("model") or "?"
    reason = route.get("reason") or "no reason recorded"
    return f"Auto chose {model}: {reason}"


def model_choice_label(name: str) -> str:
    """How a model reads in a model picker: ``auto`` says what it does, other names stay as they are."""
    return "Auto (picked by trust score)" if needs_routing(name) else name
