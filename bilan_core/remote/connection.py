"""The connection to a Bilan server: the durable outbox and its sender thread, and checked requests.

Every event goes to a durable outbox first, then to the server. A background thread sends the outbox
in batches (``BILAN_BATCH_SIZE`` events, at least every ``BILAN_BATCH_INTERVAL`` seconds). Refused
connections, timeouts and 5xx are retried with exponential back-off and jitter (the server skips an
eventId it already has, so a re-sent batch is harmless); 429 and 503 wait at least as long as
Retry-After says; other 4xx are not retried: those events stay in the outbox as ``failed``
(``failed()``, ``failures()``) and are logged. A 500 is the server failing on what it was sent: the
batch is split in halves until the event it fails on is alone, and that event, once it failed
``PARK_AFTER_ATTEMPTS`` times while the server is healthy, is kept as ``failed`` with the server's
reason, so the events behind it flow. Reads and direct writes go through ``_request``, which turns
refusals into the SDK's errors.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import random
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel, TypeAdapter, ValidationError

from bilan_core.clock import now_ms
from bilan_core.errors import (
    NAMED_ERRORS,
    BilanError,
    ConfigurationError,
    NotFoundError,
    NotOwnerError,
    PromptNotFoundError,
    UnknownPromptError,
)
from bilan_core.remote.outbox import FAILED, PENDING, Outbox, OutboxRow
from bilan_core.remote.prompt_cache import PromptCache
from bilan_core.settings import BilanSettings

log = logging.getLogger(__name__)
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 10.0
READ_FLUSH_SECONDS = 5.0
PARK_AFTER_ATTEMPTS = 3
ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")
# Paths whose 404 means "no such thing in this project" rather than a broken request.
NOT_FOUND_PATHS = (
    "/api/conversations/",
    "/api/comparisons/",
    "/api/batch-runs/",
    "/api/datasets/",
    "/api/review-sessions",
)


class ServerRequestError(BilanError):
    """A read from the Bilan server failed; the message says how."""


class RefusedInputError(ServerRequestError, ValueError):
    """The Bilan server refused a request's input (HTTP 400 or 422); the message is the server's."""


def default_outbox_path(settings: BilanSettings) -> Path:
    """``BILAN_OUTBOX_PATH``, else ``bilan-outbox.db`` in the data folder (``BILAN_DATA_DIR``)."""
    if settings.outbox_path is not None:
        return settings.outbox_path
    return settings.data_dir / "bilan-outbox.db"


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


class ServerConnection:
    """One client's HTTP connection to a Bilan server and the outbox thread that feeds it events."""

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
        self.prompt_cache = PromptCache(settings.prompt_cache_seconds)
        self._conversation_users: dict[str, str] = {}
        self.capture_notice: str | None = None  # the server's word that it keeps less than asked
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._sending = threading.Lock()  # held while a batch is on its way: forget_queued waits for it
        self._closed = False
        self._sender = threading.Thread(target=self._run, name="bilan-outbox-sender", daemon=True)
        self._sender.start()
        atexit.register(self.close)

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

    def forget_queued(self, user_id: str) -> int:
        """Delete the user's events from the outbox once no batch is on its way; how many there were.

        A batch being sent when this is called reaches the server first, so a forget request sent after
        this returns finds everything of the user that ever left this outbox.
        """
        with self._sending:
            return self.outbox.forget_user(user_id)

    def _send_batch(self, rows: list[OutboxRow]) -> None:
        """Post one batch and settle its rows: removed, postponed, or kept as failed."""
        with self._sending:
            self._post_batch(rows)

    def _post_batch(self, rows: list[OutboxRow]) -> None:
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
        elif reply.status_code in (413, 500) and len(rows) > 1:
            self._limit = max(1, len(rows) // 2)
        elif reply.status_code == 500:
            self._isolate(rows[0], reply)
        elif reply.status_code >= 500 or reply.status_code == 408:
            wait = retry_after_seconds(reply.headers.get("Retry-After"), default=0.0)
            self._back_off(rows, f"HTTP {reply.status_code}", at_least=wait)
        else:
            self._refuse(rows, reply)

    def _settle(self, rows: list[OutboxRow], reply: httpx2.Response) -> None:
        answer = reply.json()
        self._note_capture(answer.get("capture"))
        refused = {}
        for error in answer.get("errors", []):
            index = error.get("index")
            if isinstance(index, int) and 0 <= index < len(rows):
                refused[rows[index].seq] = str(error.get("message", "refused"))
        if refused:
            log.error(
                "Bilan server refused %d event(s), e.g.: %s", len(refused), next(iter(refused.values()))
            )
        self.outbox.fail(refused.items())
        self.outbox.remove(row.seq for row in rows if row.seq not in refused)

    def _note_capture(self, notice: object) -> None:
        """Warn once when the server stored events at a lower capture level than this client's."""
        if isinstance(notice, dict) and self.capture_notice is None:
            self.capture_notice = str(notice.get("message", "events were stored at a lower capture level"))
            log.warning("Bilan server: %s", self.capture_notice)

    def _isolate(self, row: OutboxRow, reply: httpx2.Response) -> None:
        """One event the server failed on alone: kept as failed if it keeps failing on a healthy server."""
        reason = f"HTTP 500: {error_text(reply)}"
        if row.attempts + 1 < PARK_AFTER_ATTEMPTS or not self._server_healthy():
            self._back_off([row], reason)
            return
        log.error("Bilan server keeps failing on event %s; kept as failed: %s", row.event_id, reason)
        self.outbox.fail([(row.seq, reason)])

    def _server_healthy(self) -> bool:
        try:
            return self._http.get("/health").status_code == 200
        except httpx2.TransportError:
            return False

    def _back_off(self, rows: list[OutboxRow], reason: str, *, at_least: float = 0.0) -> None:
        attempts = max(row.attempts for row in rows)
        delay = min(self.max_backoff, FIRST_BACKOFF_SECONDS * 2**attempts) * random.uniform(0.5, 1.0)
        delay = max(delay, at_least)
        log.warning("Bilan server unreachable (%s); retrying %d event(s) in %.1f s", reason, len(rows), delay)
        self.outbox.postpone(
            [row.seq for row in rows], until_ms=now_ms() + round(delay * 1000), reason=reason
        )

    def _refuse(self, rows: list[OutboxRow], reply: httpx2.Response) -> None:
        reason = f"HTTP {reply.status_code}: {error_text(reply)}"
        log.error("Bilan server refused a batch of %d event(s), not retrying: %s", len(rows), reason)
        self.outbox.fail((row.seq, reason) for row in rows)

    # -- requests --------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any]) -> httpx2.Response:
        return self._request("GET", path, params=params)

    def _read(self, method: str, path: str, **options: Any) -> httpx2.Response:
        """A request that reads what recorded turns and votes changed: the outbox is flushed first."""
        self.flush(timeout=READ_FLUSH_SECONDS)
        return self._request(method, path, **options)

    def _request(self, method: str, path: str, **options: Any) -> httpx2.Response:
        try:
            reply = self._http.request(method, path, **options)
        except httpx2.TransportError as exc:
            raise ServerRequestError(f"the Bilan server did not answer: {type(exc).__name__}: {exc}") from exc
        status = reply.status_code
        if status == 200:
            return reply
        named = NAMED_ERRORS.get(error_kind(reply))
        if named is not None:
            raise named(error_text(reply))
        if status == 404 and path.startswith("/api/stats/prompts/"):
            raise UnknownPromptError(error_text(reply))
        if status == 404 and path.startswith("/api/prompts"):
            raise PromptNotFoundError(error_text(reply))
        if status == 404 and path.startswith(NOT_FOUND_PATHS):
            raise NotFoundError(error_text(reply))
        if status == 403 and path.startswith("/api/conversations/"):
            raise NotOwnerError(error_text(reply))
        if status in (400, 422):
            raise RefusedInputError(error_text(reply))
        raise ServerRequestError(f"the Bilan server answered HTTP {status}: {error_text(reply)}")


def without_none(params: dict[str, Any]) -> dict[str, Any]:
    """The query fields that have a value."""
    return {name: value for name, value in params.items() if value is not None}


def parse(model: type[ModelT], reply: httpx2.Response) -> ModelT:
    """The reply's JSON as ``model``; ServerRequestError when it is not one."""
    try:
        return model.model_validate_json(reply.content)
    except ValidationError as exc:
        raise ServerRequestError(f"the Bilan server's answer is not a {model.__name__}: {exc}") from exc


def parse_list(adapter: TypeAdapter[list[ItemT]], reply: httpx2.Response) -> list[ItemT]:
    """The reply's JSON as a list the adapter reads; ServerRequestError when it is not one."""
    try:
        return adapter.validate_json(reply.content)
    except ValidationError as exc:
        raise ServerRequestError(f"the Bilan server's answer is not the expected list: {exc}") from exc


def error_kind(reply: httpx2.Response) -> str:
    """The typed error a refusal names (its ``kind``), or an empty text."""
    try:
        found = reply.json()
    except ValueError:
        return ""
    return str(found.get("kind") or "") if isinstance(found, dict) else ""


def error_text(reply: httpx2.Response) -> str:
    """What the server said was wrong: its ``{"error": ...}`` message, else the start of the body."""
    try:
        found = reply.json()
    except ValueError:
        return reply.text[:300]
    if isinstance(found, dict) and "error" in found:
        return str(found["error"])
    return str(found)[:300]
