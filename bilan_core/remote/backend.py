"""``ServerBackend``: server mode. Turns, votes and events go through the outbox; reads go over HTTP.

The outbox and its sender live in ``remote.connection``; the comparisons, batch runs, exports and
schema status in ``remote.experiment_calls``. Every read that depends on recorded turns or votes
flushes the outbox first (for up to 5 s), so a client reads back what it just wrote.
``clear_vote`` sends ``vote_cleared``; ``forget_user`` empties the outbox of the user before asking
the server to forget them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import quote

from bilan_core.analytics.filters import AnalyticsFilter, AnswersQuery, CommentsQuery
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.clock import now_ms, to_ms
from bilan_core.pricing import Price
from bilan_core.remote.connection import (
    READ_FLUSH_SECONDS,
    parse,
    parse_list,
    without_none,
)
from bilan_core.remote.dataset_calls import ServerDatasetCalls
from bilan_core.remote.experiment_calls import ServerExperimentCalls, filter_params
from bilan_core.remote.prompt_calls import ServerPromptCalls
from bilan_core.remote.review_calls import ServerReviewCalls
from bilan_core.remote.wire_events import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    VOTE_CAST,
    VOTE_CLEARED,
    make_event,
    turn_events,
)
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import CHAT_ENTRIES, SUMMARIES, ConversationSummary
from bilan_core.store.models import Turn, TurnFields, Vote
from bilan_core.store.removal import RemovalReport

if TYPE_CHECKING:
    from bilan_core.analytics.answers import AnswersPage
    from bilan_core.analytics.comments import CommentsPage
    from bilan_core.analytics.dashboard import Dashboard

# The dashboard JSON (pandas) is imported by the two reads that return frames: chat and votes stay light.


class ServerBackend(ServerDatasetCalls, ServerExperimentCalls, ServerPromptCalls, ServerReviewCalls):
    """Sends a client's turns, votes and events to a Bilan server; reads stats and the rest from it."""

    # -- Backend protocol ------------------------------------------------------------------------

    def record_turn(self, fields: TurnFields) -> None:
        """Queue ``turn_started`` and ``turn_completed`` / ``turn_failed`` for a turn."""
        self._queue(turn_events(Turn(**fields)))

    def cast_vote(
        self, *, prompt_id: str, user_id: str, value: int, comment: str | None, team_session: str | None
    ) -> Vote:
        """Queue a ``vote_cast``; the server replaces the user's earlier vote on the turn."""
        moment = now_ms()
        properties: dict[str, Any] = {
            "turn_id": prompt_id,
            "value": value,
            "comment": comment,
            "timestamp": moment,
        }
        if team_session is not None:
            properties["team_session"] = team_session
        self._queue([make_event(VOTE_CAST, user_id=user_id, properties=properties, timestamp_ms=moment)])
        return Vote(
            prompt_id=prompt_id,
            user_id=user_id,
            value=value,
            comment=comment,
            team_session=team_session,
            created_ms=moment,
            updated_ms=moment,
        )

    def clear_vote(self, *, prompt_id: str, user_id: str) -> bool:
        """Queue a ``vote_cleared``. Whether a vote existed is known only to the server: returns True."""
        moment = now_ms()
        properties = {"turn_id": prompt_id, "timestamp": moment}
        self._queue([make_event(VOTE_CLEARED, user_id=user_id, properties=properties, timestamp_ms=moment)])
        return True

    def track(self, *, event_type: str, user_id: str, properties: dict[str, Any]) -> str:
        """Queue an event of the caller's type and return its id."""
        event = make_event(event_type, user_id=user_id, properties=properties, timestamp_ms=now_ms())
        self._queue([event])
        return str(event["eventId"])

    def start_conversation(
        self, *, user_id: str, title: str | None, team_session: str | None, conversation_id: str | None
    ) -> str:
        """Queue a ``conversation_started`` and return the conversation id."""
        moment = now_ms()
        conversation = conversation_id or str(uuid.uuid4())
        self._conversation_users[conversation] = user_id
        properties: dict[str, Any] = {
            "conversation_id": conversation,
            "user_id": user_id,
            "started_at": moment,
        }
        if title is not None:
            properties["title"] = title
        if team_session is not None:
            properties["team_session"] = team_session
        self._queue(
            [make_event(CONVERSATION_STARTED, user_id=user_id, properties=properties, timestamp_ms=moment)]
        )
        return conversation

    def end_conversation(self, *, conversation_id: str, status: str) -> None:
        """Queue a ``conversation_ended``."""
        moment = now_ms()
        properties = {"conversation_id": conversation_id, "status": status, "ended_at": moment}
        user_id = self._conversation_users.pop(conversation_id, self._default_user)
        self._queue(
            [make_event(CONVERSATION_ENDED, user_id=user_id, properties=properties, timestamp_ms=moment)]
        )

    def list_conversations(self, *, user_id: str, limit: int) -> list[ConversationSummary]:
        """The user's conversations on the server, newest first (after a flush, so new ones show)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        reply = self._get("/api/conversations", {"user_id": user_id, "limit": limit})
        return parse_list(SUMMARIES, reply)

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation on the server; NotFoundError if it has none with this id."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        return parse(ConversationSummary, self._get(_conversation_path(conversation_id), {}))

    def load_chat(self, *, conversation_id: str, user_id: str, recent: int | None) -> list[ChatEntry]:
        """A conversation's turns (the newest ``recent``) with the user's votes, from the server."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        query: dict[str, Any] = {"user_id": user_id} | ({} if recent is None else {"recent": recent})
        reply = self._get(f"{_conversation_path(conversation_id)}/chat", query)
        return parse_list(CHAT_ENTRIES, reply)

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Rename the user's conversation on the server, once its queued events are delivered."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        reply = self._request(
            "PATCH", _conversation_path(conversation_id), params={"user_id": user_id}, json={"title": title}
        )
        return parse(ConversationSummary, reply)

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the user's conversation (turns and votes) on the server, once queued events are sent."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        self._request("DELETE", _conversation_path(conversation_id), params={"user_id": user_id})

    def forget_user(self, *, user_id: str) -> RemovalReport:
        """Delete the user's events still in the outbox, then all of theirs on the server; what went."""
        queued = self.forget_queued(user_id)
        report = parse(RemovalReport, self._request("POST", "/api/users/forget", json={"user_id": user_id}))
        return report.model_copy(update={"outbox_events": queued})

    def stats(self, where: VoteFilter) -> Stats:
        """The server's trust figures (after trying to deliver what is queued, for up to 5 s)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        params = {
            "model": where.model,
            "user_id": where.user_id,
            "since": to_ms(where.since) if where.since is not None else None,
            "until": to_ms(where.until) if where.until is not None else None,
            "conversation_id": where.conversation_id,
            "variant": where.variant,
            "team_session": where.team_session,
            "prompt_name": where.prompt_name,
            "prompt_version": where.prompt_number,
        }
        reply = self._get("/api/stats", {name: value for name, value in params.items() if value is not None})
        return Stats.model_validate(reply.json())

    def prompt_stats(self, prompt_id: str) -> PromptStats:
        """The server's votes and comments on one turn; UnknownPromptError if it has no such turn."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        reply = self._get(f"/api/stats/prompts/{quote(prompt_id, safe='')}", {})
        return PromptStats.model_validate(reply.json())

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price]) -> Dashboard:
        """The server's Analytics figures for the filter, costed with ``prices`` (after a flush)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        body = {
            "filter": filter_params(where),
            "prices": {
                model: {"input": price.input_per_million, "output": price.output_per_million}
                for model, price in prices.items()
            },
        }
        reply = self._request("POST", "/api/analytics/dashboard", json=body)
        from bilan_core.remote.dashboard_json import DashboardJson, dashboard_from_json

        return dashboard_from_json(parse(DashboardJson, reply))

    def comments(self, where: AnalyticsFilter, **query: Unpack[CommentsQuery]) -> CommentsPage:
        """One page of the server's comments matching the filter, a search text and a sign."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        params = {**filter_params(where), **query}
        reply = self._get("/api/analytics/comments", without_none(params))
        from bilan_core.remote.dashboard_json import CommentsPageJson, comments_from_json

        return comments_from_json(parse(CommentsPageJson, reply))

    def answers(self, where: AnalyticsFilter, **query: Unpack[AnswersQuery]) -> AnswersPage:
        """One page of the server's answers a filter (and a voter, sign, status) selects (after a flush)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        params = {**filter_params(where), **query}
        reply = self._get("/api/analytics/answers", without_none(params))
        from bilan_core.remote.dashboard_json import AnswersPageJson, answers_from_json

        return answers_from_json(parse(AnswersPageJson, reply))

    def filter_options(self) -> dict[str, list[str]]:
        """The models, users, team sessions and prompt versions in the key's project."""
        return dict(self._get("/api/analytics/filter-options", {}).json())

    def capture_limit(self) -> str:
        """The key's project's maximum capture level on the server."""
        return str(self._get("/api/capture", {}).json()["max_capture"])

    def data_version(self) -> tuple[int, ...]:
        """The server's change marker for the key's project (after a short flush)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        return tuple(int(value) for value in self._get("/api/analytics/data-version", {}).json())


def _conversation_path(conversation_id: str) -> str:
    return f"/api/conversations/{quote(conversation_id, safe='')}"
