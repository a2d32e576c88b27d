"""Where a client's turns, votes and events go: the local database or a Bilan server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from bilan_core.analytics.dashboard import AnalyticsFilter, CommentsPage, Dashboard
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.pricing import Price
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.models import Turn, Vote


class Backend(Protocol):
    """What ``Bilan`` needs from a store; ``LocalBackend`` and the server client implement it."""

    def record_turn(self, turn: Turn) -> None:
        """Keep a finished turn."""

    def cast_vote(
        self, *, prompt_id: str, user_id: str, value: int, comment: str | None, team_session: str | None
    ) -> Vote:
        """Keep a user's vote on a turn, replacing their earlier one."""

    def clear_vote(self, *, prompt_id: str, user_id: str) -> bool:
        """Remove a user's vote on a turn."""

    def track(self, *, event_type: str, user_id: str, properties: dict[str, Any]) -> str:
        """Keep a generic event and return its id."""

    def start_conversation(
        self, *, user_id: str, title: str | None, team_session: str | None, conversation_id: str | None
    ) -> str:
        """Open a conversation and return its id."""

    def end_conversation(self, *, conversation_id: str, status: str) -> None:
        """Close a conversation."""

    def list_conversations(self, *, user_id: str, limit: int) -> list[ConversationSummary]:
        """A user's conversations, most recently updated first."""

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation; NotFoundError if there is none."""

    def load_chat(self, *, conversation_id: str, user_id: str) -> list[ChatEntry]:
        """A conversation's turns, oldest first, each with ``user_id``'s vote and comment."""

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Give the user's conversation a new title; NotFoundError, or NotOwnerError for another's."""

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the user's conversation with its turns and votes; NotFoundError, or NotOwnerError."""

    def stats(self, where: VoteFilter) -> Stats:
        """Trust figures for the votes ``where`` selects."""

    def prompt_stats(self, prompt_id: str) -> PromptStats:
        """Votes and comments on one turn."""

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price]) -> Dashboard:
        """Every figure of the Analytics page for one filter."""

    def comments(
        self, where: AnalyticsFilter, *, search: str | None, sign: int | None, page: int, page_size: int
    ) -> CommentsPage:
        """One page of comments matching the filter, a search text and a sign."""

    def filter_options(self) -> dict[str, list[str]]:
        """The models, users, team sessions and prompt versions that occur."""

    def data_version(self) -> tuple[int, ...]:
        """A value that changes whenever turns or votes change, for caching the analytics."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing waits to be stored; True when nothing does."""

    def pending(self) -> int:
        """Events written but not stored yet (server mode's outbox)."""

    def failed(self) -> int:
        """Events the store refused for good (server mode: 4xx answers other than 429)."""

    def close(self) -> None:
        """Release what the backend holds (a server client drains its outbox first)."""
