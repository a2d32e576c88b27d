"""The ``Bilan`` client: votes, stats, events, conversations and tracked chat for one user."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

from bilan_core.analytics.filters import AnalyticsFilter, AnswersQuery, CommentsQuery
from bilan_core.analytics.stats import PromptStats, Stats, StatsFilters, checked_vote_filter
from bilan_core.chat.options import ToolRunOptions
from bilan_core.chat.routing import RouteDecision, RoutingPolicy, choose_model, policy_from_settings
from bilan_core.chat.tool_loop import ToolLoopResponse, arun_with_tools, run_with_tools
from bilan_core.chat.tool_streaming import (
    AsyncToolStreamingResponse,
    ToolStreamingResponse,
    astream_with_tools,
    stream_with_tools,
)
from bilan_core.chat.tracked import TrackedChat
from bilan_core.client.backend import Backend
from bilan_core.client.dataset_calls import DatasetCalls
from bilan_core.client.experiment_calls import ExperimentCalls
from bilan_core.client.local import LocalBackend
from bilan_core.client.prompt_calls import PromptCalls
from bilan_core.client.review_calls import ReviewCalls
from bilan_core.limits import check_label
from bilan_core.pricing import Price, price_table
from bilan_core.privacy.levels import CaptureLevel, check_capture_level, lower_level
from bilan_core.settings import BilanSettings, load_settings
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.conversations import clean_title, validate_conversation_id, validate_status
from bilan_core.store.engine import get_engine
from bilan_core.store.events import validate_event_type, validate_properties
from bilan_core.store.models import Turn, TurnFields, Vote, turn_fields_of
from bilan_core.store.removal import RemovalReport
from bilan_core.store.votes import validate_comment, validate_vote_value
from bilan_core.telemetry import Telemetry

if TYPE_CHECKING:
    from bilan_core.analytics.answers import AnswersPage
    from bilan_core.analytics.comment_themes import CommentThemes
    from bilan_core.analytics.comments import CommentsPage
    from bilan_core.analytics.dashboard import Dashboard


class Bilan(DatasetCalls, ExperimentCalls, PromptCalls, ReviewCalls, TrackedChat):
    """A Bilan client. Several can live side by side, each with its own settings and user."""

    def __init__(self, settings: BilanSettings | None = None, *, team_session: str | None = None) -> None:
        self.settings = settings or load_settings()
        self.user_id = self.settings.user_id
        self.team_session = None if team_session is None else check_label("team_session", team_session)
        self.engine = get_engine(self.settings.database_url) if self.settings.mode == "local" else None
        self.backend: Backend = self._make_backend()
        # What is kept of people's words, applied here before either backend writes anything.
        self.capture = self.settings.capture_policy()
        self.telemetry = Telemetry(self.settings)

    def with_identity(self, *, user_id: str, team_session: str | None = None) -> Bilan:
        """A client for another user (and team session) sharing this one's backend and connections."""
        twin = copy.copy(self)
        twin.user_id = check_label("user_id", user_id)
        twin.team_session = None if team_session is None else check_label("team_session", team_session)
        return twin

    def _make_backend(self) -> Backend:
        if self.engine is not None:
            return LocalBackend(self.engine)
        from bilan_core.remote.backend import ServerBackend

        return ServerBackend(self.settings)

    def record_turn(self, turn: Turn) -> None:
        """Keep a finished turn at the capture level."""
        self.record_turn_fields(turn_fields_of(turn))

    def record_turn_fields(self, fields: TurnFields) -> None:
        """Keep a finished turn, given as plain values, at the capture level (the tracked calls' way)."""
        self.backend.record_turn(self.capture.turn_fields(fields))
        self.telemetry.count("turn")

    def vote(
        self, prompt_id: str, value: int, comment: str | None = None, *, user_id: str | None = None
    ) -> Vote:
        """Record 👍 (1) or 👎 (-1) on an answer; voting again replaces the user's earlier vote."""
        validate_vote_value(value)
        comment = self.capture.text(validate_comment(comment))
        vote = self.backend.cast_vote(
            prompt_id=check_label("prompt_id", prompt_id),
            user_id=self._voter(user_id),
            value=value,
            comment=comment,
            team_session=self.team_session,
        )
        self.telemetry.count("vote")
        return vote

    def clear_vote(self, prompt_id: str, *, user_id: str | None = None) -> bool:
        """Remove the user's vote on an answer; True if there was one."""
        prompt_id = check_label("prompt_id", prompt_id)
        return self.backend.clear_vote(prompt_id=prompt_id, user_id=self._voter(user_id))

    def get_stats(self, **filters: Unpack[StatsFilters]) -> Stats:
        """Trust score, vote counts, interval, trend and newest comments, filtered as asked."""
        where = checked_vote_filter(filters)
        if where.user_id is not None:  # stored as a keyed hash at the ``none`` capture level
            where = dataclasses.replace(where, user_id=self.capture.user(where.user_id))
        return self.backend.stats(where)

    def get_prompt_stats(self, prompt_id: str) -> PromptStats:
        """Votes and comments on one answer."""
        return self.backend.prompt_stats(check_label("prompt_id", prompt_id))

    def track(self, event_type: str, properties: dict[str, Any] | None = None) -> str:
        """Record a custom event and return its id."""
        event_id = self.backend.track(
            event_type=validate_event_type(event_type),
            user_id=self._stored_user(),
            properties=self.capture.properties(validate_properties(properties)),
        )
        self.telemetry.count("event")
        return event_id

    def start_conversation(self, title: str | None = None, *, conversation_id: str | None = None) -> str:
        """Open a conversation for this user and return its id."""
        if conversation_id is not None:
            conversation_id = validate_conversation_id(conversation_id)
        return self.backend.start_conversation(
            user_id=self._stored_user(),
            title=self.capture.text(clean_title(title)),
            team_session=self.team_session,
            conversation_id=conversation_id,
        )

    def end_conversation(self, conversation_id: str, status: str = "completed") -> None:
        """Close a conversation with a status such as ``completed`` or ``abandoned``."""
        self.backend.end_conversation(
            conversation_id=validate_conversation_id(conversation_id), status=validate_status(status)
        )

    def list_conversations(self, *, limit: int = 50) -> list[ConversationSummary]:
        """This user's conversations, most recently updated first (at most ``limit``, 1 to 1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValueError(f"limit must be a whole number from 1 to 1000, got {limit!r}")
        return self.backend.list_conversations(user_id=self._stored_user(), limit=limit)

    def get_conversation(self, conversation_id: str) -> ConversationSummary:
        """One conversation; NotFoundError if there is none with this id."""
        return self.backend.get_conversation(conversation_id=validate_conversation_id(conversation_id))

    def load_chat(self, conversation_id: str, *, recent: int | None = None) -> list[ChatEntry]:
        """A conversation's turns (the newest ``recent`` if given), oldest first, with this user's votes."""
        if recent is not None and (isinstance(recent, bool) or not isinstance(recent, int) or recent < 1):
            raise ValueError(f"recent must be a whole number of at least 1, got {recent!r}")
        return self.backend.load_chat(
            conversation_id=validate_conversation_id(conversation_id),
            user_id=self._stored_user(),
            recent=recent,
        )

    def rename_conversation(self, conversation_id: str, title: str) -> ConversationSummary:
        """Give this user's conversation a new title (one line, not blank); NotOwnerError for another's."""
        cleaned = clean_title(title)
        if not cleaned:
            raise ValueError("a conversation title must not be empty")
        return self.backend.rename_conversation(
            conversation_id=validate_conversation_id(conversation_id),
            title=self.capture.text(cleaned) or "(title not captured)",
            user_id=self._stored_user(),
        )

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete this user's conversation with its turns and their votes; NotOwnerError for another's."""
        self.backend.delete_conversation(
            conversation_id=validate_conversation_id(conversation_id), user_id=self._stored_user()
        )

    def forget_user(self, user_id: str) -> RemovalReport:
        """Delete everything stored of a user (turns, votes, comments, conversations, events); what went."""
        return self.backend.forget_user(user_id=self.capture.user(check_label("user_id", user_id)))

    def route_model(self, policy: RoutingPolicy | None = None) -> RouteDecision:
        """The model to use now: the policy (default: ``BILAN_ROUTE_*``) applied to recent trust figures."""
        return choose_model(self, policy or policy_from_settings(self.settings))

    def run_with_tools(
        self,
        messages: list[dict[str, Any]],
        **options: Unpack[ToolRunOptions],
    ) -> ToolLoopResponse:
        """Answer with tools (built-in ones by default), running the model's tool calls; one turn recorded."""
        return run_with_tools(self, messages, **options)

    async def arun_with_tools(
        self,
        messages: list[dict[str, Any]],
        **options: Unpack[ToolRunOptions],
    ) -> ToolLoopResponse:
        """The async twin of ``run_with_tools``."""
        return await arun_with_tools(self, messages, **options)

    async def astream_with_tools(
        self,
        messages: list[dict[str, Any]],
        **options: Unpack[ToolRunOptions],
    ) -> AsyncToolStreamingResponse:
        """The async twin of ``stream_with_tools``: ``async for`` over the result."""
        return await astream_with_tools(self, messages, **options)

    def stream_with_tools(
        self,
        messages: list[dict[str, Any]],
        **options: Unpack[ToolRunOptions],
    ) -> ToolStreamingResponse:
        """``run_with_tools`` with the answer streamed: iterate ``stream``; the turn is kept at the end."""
        return stream_with_tools(self, messages, **options)

    def prices(self) -> dict[str, Price]:
        """The model price table: defaults with ``BILAN_PRICES`` applied."""
        return price_table(self.settings.prices)

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price] | None = None) -> Dashboard:
        """Every figure of the Analytics page for one filter, from the database or the server."""
        return self.backend.dashboard(where, prices=self.prices() if prices is None else prices)

    def comments(self, where: AnalyticsFilter, **query: Unpack[CommentsQuery]) -> CommentsPage:
        """One page of comments, newest first, matching the filter, a search text and a sign."""
        return self.backend.comments(where, **query)

    def answers(self, where: AnalyticsFilter, **query: Unpack[AnswersQuery]) -> AnswersPage:
        """One page of the answers behind a figure, newest first: the filter, then a voter, sign or status."""
        return self.backend.answers(where, **query)

    def comment_themes(self, where: AnalyticsFilter, *, limit: int = 2000) -> CommentThemes:
        """Themes of the newest ``limit`` comments the filter selects: what sets 👎 apart, per model."""
        from bilan_core.analytics.comment_themes import comment_themes, newest_comments

        rows = newest_comments(lambda page, size: self.comments(where, page=page, page_size=size), limit)
        return comment_themes(rows)

    def filter_options(self) -> dict[str, list[str]]:
        """The models, users, team sessions and prompt versions to offer as filters."""
        return self.backend.filter_options()

    def data_version(self) -> tuple[int, ...]:
        """A marker that changes whenever turns or votes change (a cache key for the analytics)."""
        return self.backend.data_version()

    def capture_level(self) -> CaptureLevel:
        """The capture level in force: this client's, lowered to the server project's maximum if lower."""
        return lower_level(self.capture.level, check_capture_level(self.backend.capture_limit()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait up to ``timeout`` seconds for queued events to reach the server; True if none is left."""
        return self.backend.flush(timeout=timeout)

    def pending(self) -> int:
        """Events queued in the outbox and not yet stored by the server (always 0 in local mode)."""
        return self.backend.pending()

    def failed(self) -> int:
        """Events the server refused and will not be retried (always 0 in local mode)."""
        return self.backend.failed()

    def close(self) -> None:
        """Flush what is pending (server outbox, telemetry) and release resources."""
        self.backend.close()
        self.telemetry.close()
        self.close_chat_clients()
