"""Conversations as the Playground reads them, in either mode: the list entry and the JSON of a chat."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, TypeAdapter

from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.models import Conversation


class ConversationSummary(BaseModel):
    """One conversation as listed and opened (no store-internal ids)."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    user_id: str
    title: str | None = None
    team_session: str | None = None
    status: str = "active"
    created_ms: int
    updated_ms: int
    ended_ms: int | None = None

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationSummary:
        """The summary of a stored conversation."""
        return cls.model_validate(conversation, from_attributes=True)


CHAT_ENTRIES = TypeAdapter(list[ChatEntry])
SUMMARIES = TypeAdapter(list[ConversationSummary])
