"""The local backend: everything in the embedded (or any SQLAlchemy) database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from bilan_core.analytics import dashboard as analytics
from bilan_core.analytics import stats
from bilan_core.analytics.dashboard import AnalyticsFilter, CommentsPage, Dashboard
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.pricing import Price
from bilan_core.store import chat_history, conversations, events, turns, votes
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.models import Turn, Vote


class LocalBackend:
    """Reads and writes one database directly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_turn(self, turn: Turn) -> None:
        """Insert a finished turn."""
        turns.record_turn(self.engine, turn)
        if turn.conversation_id:
            conversations.touch_conversation(
                self.engine, conversation_id=turn.conversation_id, title=turn.prompt_text
            )

    def cast_vote(
        self, *, prompt_id: str, user_id: str, value: int, comment: str | None, team_session: str | None
    ) -> Vote:
        """Upsert the user's vote on a known turn."""
        return votes.cast_vote(
            self.engine,
            prompt_id=prompt_id,
            user_id=user_id,
            value=value,
            comment=comment,
            team_session=team_session,
        )

    def clear_vote(self, *, prompt_id: str, user_id: str) -> bool:
        """Delete the user's vote on a turn."""
        return votes.clear_vote(self.engine, prompt_id=prompt_id, user_id=user_id)

    def track(self, *, event_type: str, user_id: str, properties: dict[str, Any]) -> str:
        """Insert a generic event."""
        return events.track_event(
            self.engine, event_type=event_type, user_id=user_id, properties=properties
        ).event_id

    def start_conversation(
        self, *, user_id: str, title: str | None, team_session: str | None, conversation_id: str | None
    ) -> str:
        """Insert a conversation."""
        return conversations.start_conversation(
            self.engine,
            user_id=user_id,
            title=title,
            team_session=team_session,
            conversation_id=conversation_id,
        ).conversation_id

    def end_conversation(self, *, conversation_id: str, status: str) -> None:
        """Mark a conversation ended."""
        conversations.end_conversation(self.engine, conversation_id=conversation_id, status=status)

    def list_conversations(self, *, user_id: str, limit: int) -> list[ConversationSummary]:
        """A user's conversations from SQL, most recently updated first."""
        found = conversations.list_conversations(self.engine, user_id=user_id, limit=limit)
        return [ConversationSummary.of(conversation) for conversation in found]

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation from SQL."""
        return ConversationSummary.of(
            conversations.get_conversation(self.engine, conversation_id=conversation_id)
        )

    def load_chat(self, *, conversation_id: str, user_id: str) -> list[ChatEntry]:
        """A conversation's turns with the user's votes, in one query."""
        return chat_history.load_chat(self.engine, conversation_id=conversation_id, user_id=user_id)

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Update the owner's conversation title in SQL."""
        return ConversationSummary.of(
            conversations.rename_conversation(
                self.engine, conversation_id=conversation_id, title=title, user_id=user_id
            )
        )

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the owner's conversation, its turns and their votes in SQL."""
        conversations.delete_conversation(self.engine, conversation_id=conversation_id, user_id=user_id)

    def stats(self, where: VoteFilter) -> Stats:
        """Trust figures from SQL."""
        return stats.compute_stats(self.engine, where)

    def prompt_stats(self, prompt_id: str) -> PromptStats:
        """One turn's votes from SQL."""
        return stats.compute_prompt_stats(self.engine, prompt_id=prompt_id)

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price]) -> Dashboard:
        """The Analytics page's figures from SQL."""
        return analytics.load_dashboard(self.engine, where, prices=prices)

    def comments(
        self, where: AnalyticsFilter, *, search: str | None, sign: int | None, page: int, page_size: int
    ) -> CommentsPage:
        """A page of comments from SQL."""
        return analytics.comments_page(
            self.engine, where, search=search, sign=sign, page=page, page_size=page_size
        )

    def filter_options(self) -> dict[str, list[str]]:
        """Distinct filter values from SQL."""
        return analytics.filter_options(self.engine)

    def data_version(self) -> tuple[int, ...]:
        """The database's change marker for turns and votes."""
        return analytics.data_version(self.engine)

    def flush(self, timeout: float) -> bool:
        """Nothing waits: every write is stored before it returns."""
        return True

    def pending(self) -> int:
        """Always 0: writes are stored at once."""
        return 0

    def failed(self) -> int:
        """Always 0: a refused write raises instead."""
        return 0

    def close(self) -> None:
        """Nothing to drain; the shared engine stays open for other clients."""
