"""``ServerBackend``: server mode. Every event goes to a durable outbox first, then to the server.

A background thread sends the outbox in batches (``BILAN_BATCH_SIZE`` events, at least every
``BILAN_BATCH_INTERVAL`` seconds). Refused connections, timeouts and 5xx are retried with exponential
back-off and jitter (the server skips an eventId it already has, so a re-sent batch is harmless);
429 waits as long as Retry-After says; other 4xx are not retried: those events stay in the outbox
as ``failed`` (``failed()``, ``failures()``) and are logged. ``clear_vote`` sends ``vote_cleared``.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2
from pydantic import BaseModel, TypeAdapter, ValidationError

from bilan_core.analytics.dashboard import AnalyticsFilter, CommentsPage, Dashboard
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.clock import now_ms, to_ms
from bilan_core.errors import BilanError, ConfigurationError, NotFoundError, NotOwnerError, UnknownPromptError
from bilan_core.pricing import Price
from bilan_core.remote.dashboard_json import (
    CommentsPageJson,
    DashboardJson,
    comments_from_json,
    dashboard_from_json,
)
from bilan_core.remote.outbox import FAILED, PENDING, Outbox, OutboxRow
from bilan_core.remote.wire_events import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    VOTE_CAST,
    VOTE_CLEARED,
    make_event,
    turn_events,
)
from bilan_core.settings import BilanSettings
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.conversation_summary import CHAT_ENTRIES, SUMMARIES, ConversationSummary
from bilan_core.store.models import Turn, Vote

log = logging.getLogger(__name__)
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 10.0
READ_FLUSH_SECONDS = 5.0
ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")


class ServerRequestError(BilanError):
    """A read from the Bilan server failed; the message says how."""


def default_outbox_path(settings: BilanSettings) -> Path:
    """``BILAN_OUTBOX_PATH``, else ``bilan-outbox.db`` in ``BILAN_DATA_DIR`` (or the working folder)."""
    if settings.outbox_path is not None:
        return settings.outbox_path
    return Path(os.environ.get("BILAN_DATA_DIR") or ".") / "bilan-outbox.db"


def retry_after_seconds(value: str | None, *, default: float = 1.0) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


class ServerBackend:
    """Sends a client's turns, votes and events to a Bilan server; reads stats from it."""

    def __init__(
        self,
        settings: BilanSettings,
        *,
        transport: httpx2.BaseTransport | None = None,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        if not settings.endpoint:
            raise ConfigurationError(
                "server mode needs the server's address: set BILAN_ENDPOINT or endpoint="
            )
        if settings.api_key is None:
            raise ConfigurationError("server mode needs an API key: set BILAN_API_KEY or pass api_key=")
        key = settings.api_key.get_secret_value()
        endpoint = settings.endpoint.rstrip("/")
        self.batch_size = settings.batch_size
        self.batch_interval = settings.batch_interval
        self.max_backoff = max_backoff
        self._http = httpx2.Client(
            base_url=endpoint,
            headers={"Authorization": f"Bearer {key}"},
            timeout=settings.timeout,
            transport=transport,
        )
        destination = hashlib.sha256(f"{endpoint}\n{key}".encode()).hexdigest()[:16]
        self.outbox = Outbox(default_outbox_path(settings), destination=destination)
        self._limit = self.batch_size
        self._unsent = 0
        self._default_user = settings.user_id
        self._conversation_users: dict[str, str] = {}
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._closed = False
        self._sender = threading.Thread(target=self._run, name="bilan-outbox-sender", daemon=True)
        self._sender.start()
        atexit.register(self.close)

    # -- Backend protocol ------------------------------------------------------------------------

    def record_turn(self, turn: Turn) -> None:
        """Queue ``turn_started`` and ``turn_completed`` / ``turn_failed`` for a turn."""
        self._queue(turn_events(turn))

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
        return _parse_list(SUMMARIES, reply)

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation on the server; NotFoundError if it has none with this id."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        return _parse(ConversationSummary, self._get(_conversation_path(conversation_id), {}))

    def load_chat(self, *, conversation_id: str, user_id: str) -> list[ChatEntry]:
        """A conversation's turns with the user's votes, from the server (after a flush)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        reply = self._get(f"{_conversation_path(conversation_id)}/chat", {"user_id": user_id})
        return _parse_list(CHAT_ENTRIES, reply)

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Rename the user's conversation on the server, once its queued events are delivered."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        reply = self._request(
            "PATCH", _conversation_path(conversation_id), params={"user_id": user_id}, json={"title": title}
        )
        return _parse(ConversationSummary, reply)

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the user's conversation (turns and votes) on the server, once queued events are sent."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        self._request("DELETE", _conversation_path(conversation_id), params={"user_id": user_id})

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
            "filter": _filter_params(where),
            "prices": {
                model: {"input": price.input_per_million, "output": price.output_per_million}
                for model, price in prices.items()
            },
        }
        reply = self._request("POST", "/api/analytics/dashboard", json=body)
        return dashboard_from_json(_parse(DashboardJson, reply))

    def comments(
        self, where: AnalyticsFilter, *, search: str | None, sign: int | None, page: int, page_size: int
    ) -> CommentsPage:
        """One page of the server's comments matching the filter, a search text and a sign."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        params = {
            **_filter_params(where),
            "search": search,
            "sign": sign,
            "page": page,
            "page_size": page_size,
        }
        reply = self._get("/api/analytics/comments", _without_none(params))
        return comments_from_json(_parse(CommentsPageJson, reply))

    def filter_options(self) -> dict[str, list[str]]:
        """The models, users, team sessions and prompt versions in the key's project."""
        return dict(self._get("/api/analytics/filter-options", {}).json())

    def data_version(self) -> tuple[int, ...]:
        """The server's change marker for the key's project (after a short flush)."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        return tuple(int(value) for value in self._get("/api/analytics/data-version", {}).json())

    def close(self) -> None:
        """Send what is queued (up to 10 s), then stop; anything left stays in the outbox file."""
        if self._closed:
            return
        if not self.flush(timeout=CLOSE_TIMEOUT_SECONDS):
            log.warning(
                "Bilan: %d event(s) not delivered yet; they stay in %s", self.pending(), self.outbox.path
            )
        self._closed = True
        self._wake.set()
        self._sender.join(timeout=CLOSE_TIMEOUT_SECONDS)
        self._http.close()
        self.outbox.close()
        atexit.unregister(self.close)

    # -- outbox state ----------------------------------------------------------------------------

    def pending(self) -> int:
        """Events queued and not yet stored by the server."""
        return self.outbox.count(PENDING)

    def failed(self) -> int:
        """Events the server refused (4xx other than 429); they are not retried."""
        return self.outbox.count(FAILED)

    def failures(self) -> list[tuple[str, str]]:
        """The newest refused events as (eventId, reason)."""
        return self.outbox.failures()

    def flush(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Wait until nothing is pending (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.pending():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._wake.set()
                self._idle.wait(min(remaining, 0.05))
        return True

    # -- sending ---------------------------------------------------------------------------------

    def _queue(self, events: list[dict[str, Any]]) -> None:
        if self._closed:
            raise BilanError("this Bilan client is closed; create a new one to send more events")
        self.outbox.add(events)
        self._unsent += len(events)
        if self._unsent >= self.batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            try:
                delay = self._send_due()
            except Exception:  # the sender must survive anything; the events stay queued
                log.exception("Bilan outbox sender failed; retrying")
                delay = self.max_backoff
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()
            with self._idle:
                self._idle.notify_all()

    def _send_due(self) -> float:
        """Send due batches, oldest first, until none is due; the seconds to wait before looking again."""
        while not self._closed:
            rows = self.outbox.due(self._limit)
            if not rows:
                self._unsent = 0
                upcoming = self.outbox.next_try_ms()
                if upcoming is None:
                    return self.batch_interval
                return min(self.batch_interval, max(0.01, (upcoming - now_ms()) / 1000))
            self._send_batch(rows)
        return 0.0

    def _send_batch(self, rows: list[OutboxRow]) -> None:
        """Post one batch and settle its rows: removed, postponed, or kept as failed."""
        body = ('{"events":[' + ",".join(row.body for row in rows) + "]}").encode()
        try:
            reply = self._http.post("/api/events", content=body, headers={"Content-Type": "application/json"})
        except httpx2.TransportError as exc:
            self._back_off(rows, f"{type(exc).__name__}: {exc}")
            return
        if reply.status_code == 200:
            self._settle(rows, reply)
            self._limit = self.batch_size
        elif reply.status_code == 429:
            wait = retry_after_seconds(reply.headers.get("Retry-After"))
            log.warning("Bilan server rate limit: waiting %.1f s as Retry-After says", wait)
            self.outbox.postpone(
                [row.seq for row in rows],
                until_ms=now_ms() + round(wait * 1000),
                reason="429",
                count_attempt=False,
            )
        elif reply.status_code == 413 and len(rows) > 1:
            self._limit = max(1, len(rows) // 2)
        elif reply.status_code >= 500 or reply.status_code == 408:
            self._back_off(rows, f"HTTP {reply.status_code}")
        else:
            self._refuse(rows, reply)

    def _settle(self, rows: list[OutboxRow], reply: httpx2.Response) -> None:
        refused = {}
        for error in reply.json().get("errors", []):
            index = error.get("index")
            if isinstance(index, int) and 0 <= index < len(rows):
                refused[rows[index].seq] = str(error.get("message", "refused"))
        if refused:
            log.error(
                "Bilan server refused %d event(s), e.g.: %s", len(refused), next(iter(refused.values()))
            )
        self.outbox.fail(refused.items())
        self.outbox.remove(row.seq for row in rows if row.seq not in refused)

    def _back_off(self, rows: list[OutboxRow], reason: str) -> None:
        attempts = max(row.attempts for row in rows)
        delay = min(self.max_backoff, FIRST_BACKOFF_SECONDS * 2**attempts) * random.uniform(0.5, 1.0)
        log.warning("Bilan server unreachable (%s); retrying %d event(s) in %.1f s", reason, len(rows), delay)
        self.outbox.postpone(
            [row.seq for row in rows], until_ms=now_ms() + round(delay * 1000), reason=reason
        )

    def _refuse(self, rows: list[OutboxRow], reply: httpx2.Response) -> None:
        reason = f"HTTP {reply.status_code}: {_error_text(reply)}"
        log.error("Bilan server refused a batch of %d event(s), not retrying: %s", len(rows), reason)
        self.outbox.fail((row.seq, reason) for row in rows)

    def _get(self, path: str, params: dict[str, Any]) -> httpx2.Response:
        return self._request("GET", path, params=params)

    def _request(self, method: str, path: str, **options: Any) -> httpx2.Response:
        try:
            reply = self._http.request(method, path, **options)
        except httpx2.TransportError as exc:
            raise ServerRequestError(f"the Bilan server did not answer: {type(exc).__name__}: {exc}") from exc
        if reply.status_code == 404 and path.startswith("/api/stats/prompts/"):
            raise UnknownPromptError(_error_text(reply))
        if reply.status_code == 404 and path.startswith("/api/conversations/"):
            raise NotFoundError(_error_text(reply))
        if reply.status_code == 403 and path.startswith("/api/conversations/"):
            raise NotOwnerError(_error_text(reply))
        if reply.status_code != 200:
            raise ServerRequestError(
                f"the Bilan server answered HTTP {reply.status_code}: {_error_text(reply)}"
            )
        return reply


def _filter_params(where: AnalyticsFilter) -> dict[str, Any]:
    """An analytics filter as the server's query fields (the server adds the key's project)."""
    return _without_none(
        {
            "start_ms": where.start_ms,
            "end_ms": where.end_ms,
            "models": list(where.models),
            "users": list(where.users),
            "team_session": where.team_session,
            "prompt_versions": list(where.prompt_versions),
        }
    )


def _without_none(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def _parse(model: type[ModelT], reply: httpx2.Response) -> ModelT:
    try:
        return model.model_validate_json(reply.content)
    except ValidationError as exc:
        raise ServerRequestError(f"the Bilan server's answer is not a {model.__name__}: {exc}") from exc


def _parse_list(adapter: TypeAdapter[list[ItemT]], reply: httpx2.Response) -> list[ItemT]:
    try:
        return adapter.validate_json(reply.content)
    except ValidationError as exc:
        raise ServerRequestError(f"the Bilan server's answer is not the expected list: {exc}") from exc


def _conversation_path(conversation_id: str) -> str:
    return f"/api/conversations/{quote(conversation_id, safe='')}"


def _error_text(reply: httpx2.Response) -> str:
    try:
        found = reply.json()
    except ValueError:
        return reply.text[:300]
    if isinstance(found, dict) and "error" in found:
        return str(found["error"])
    return str(found)[:300]
