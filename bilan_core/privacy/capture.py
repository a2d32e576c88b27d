"""Capture levels: how much of what people typed is kept, decided once before anything is written.

``full`` keeps text as typed; ``sanitized`` keeps it with personal data and secrets replaced by
typed placeholders; ``metadata`` keeps no prompt, answer, comment, title, error or tool-argument
text (lengths, tokens, latency, model and votes stay); ``none`` is ``metadata`` with user ids kept
only as keyed hashes. The client applies its level to turns, votes, events and conversations before
the local database or the server-mode outbox; the server applies a project's maximum level to every
event before its ingestion stores it (``wire_update``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, get_args

from bilan_core.privacy.levels import (
    FULL,
    CaptureLevel,
    check_capture_level,
    lower_level,
    lowest_level,
    rank,
)
from bilan_core.privacy.redaction import Redactor, redactor_for

KEY_FILE_NAME = "bilan-capture.key"
HASHED_USER = re.compile(r"u_[0-9a-f]{32}")
# Bilan's own SDK: a whole-text marker at its ``metadata`` level, ``[REDACTED]`` at ``sanitized``.
METADATA_MARKER = re.compile(r"\[METADATA: (\{.*\})\]", re.DOTALL)
SDK_REDACTED = "[REDACTED]"
# Property values that are people's words: dropped below ``sanitized``, redacted at it.
TEXT_PROPERTIES = frozenset({"comment", "title", "errorMessage", "text", "message", "prompt", "response"})
# Property values that name things (ids, labels, kinds): never rewritten, or links between events break.
LABEL_PROPERTIES = frozenset(
    {
        "turnId", "turn_id", "conversation_id", "conversationId", "model", "modelUsed", "provider",
        "systemPromptVersion", "team_session", "status", "errorType", "finish_reason", "journey_name",
        "step_name", "action_type", "reason", "journey_id", "capture",
    }
)  # fmt: skip
USER_PROPERTIES = frozenset({"user_id", "userId"})


@dataclass(frozen=True)
class TextReading:
    """What a stored text is: the words kept (None when not captured), their length and their level."""

    text: str | None
    chars: int | None
    level: CaptureLevel | None


def read_text(text: str | None) -> TextReading:
    """Recognise Bilan's SDK markers: a ``[METADATA: {...}]`` marker is no text, only a length."""
    if text is None:
        return TextReading(None, None, None)
    marker = METADATA_MARKER.fullmatch(text.strip())
    if marker:
        return TextReading(None, _marker_length(marker.group(1)), "metadata")
    return TextReading(text, len(text), "sanitized" if SDK_REDACTED in text else FULL)


def _marker_length(body: str) -> int | None:
    try:
        length = json.loads(body).get("length")
    except (ValueError, AttributeError):
        return None
    return length if type(length) is int and length >= 0 else None


@dataclass(frozen=True)
class CapturePolicy:
    """One capture level with the redactor and the user-id key it needs."""

    level: CaptureLevel
    redactor: Redactor
    key_source: KeySource = field(compare=False)

    @classmethod
    def build(
        cls, level: str, *, patterns: Mapping[str, str], key: str | None, data_dir: Path
    ) -> CapturePolicy:
        """A policy for ``level`` with user patterns, and the hashing key (or the data folder's key file)."""
        return cls(check_capture_level(level), redactor_for(patterns), KeySource(key, data_dir))

    def at(self, level: CaptureLevel) -> CapturePolicy:
        """The same redactor and key at another level."""
        return CapturePolicy(level, self.redactor, self.key_source)

    @property
    def keeps_text(self) -> bool:
        """True at ``full`` and ``sanitized``."""
        return rank(self.level) >= rank("sanitized")

    def text(self, value: str | None) -> str | None:
        """People's words at this level: as typed, redacted, or None."""
        if value is None or self.level == FULL:
            return value
        return self.redactor.redact(value) if self.keeps_text else None

    def user(self, user_id: str) -> str:
        """The user id to store: ``u_`` and a keyed hash at ``none``, else as given."""
        if self.level != "none" or HASHED_USER.fullmatch(user_id):
            return user_id
        digest = hmac.new(self.key_source.key(), user_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"u_{digest[:32]}"

    def messages(self, messages: list[Any] | None) -> list[Any] | None:
        """Chat messages with their text redacted, or None below ``sanitized``."""
        if messages is None or self.level == FULL:
            return messages
        return self._redact_json(messages) if self.keeps_text else None

    def tool_calls(self, calls: list[Any] | None) -> list[Any] | None:
        """Tool calls with their arguments redacted, or only their names below ``sanitized``."""
        if calls is None or self.level == FULL:
            return calls
        if self.keeps_text:
            return list(self._redact_json(calls))
        return [_call_names(call) for call in calls]

    def properties(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Event properties at this level: labels kept, people's words redacted or dropped, users hashed."""
        if self.level == FULL:
            return dict(properties)
        kept: dict[str, Any] = {}
        for name, value in properties.items():
            if name in LABEL_PROPERTIES:
                kept[name] = value
            elif name in USER_PROPERTIES and isinstance(value, str):
                kept[name] = self.user(value)
            elif name == "messages" and isinstance(value, list):
                kept[name] = self.messages(value)
            elif name == "tool_calls" and isinstance(value, list):
                kept[name] = self.tool_calls(value)
            elif name not in TEXT_PROPERTIES or self.keeps_text:
                kept[name] = self._redact_json(value)
        return {name: value for name, value in kept.items() if value is not None}

    def turn_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A turn's columns at this level, with its ``capture`` level and text lengths recorded."""
        prompt, response = fields.get("prompt_text"), fields.get("response")
        noted = {
            "capture": self.level,
            "prompt_chars": None if prompt is None else len(prompt),
            "response_chars": None if response is None else len(response),
        }
        if self.level == FULL:  # every tracked call passes here: at full only the notes are added
            return {**fields, **noted}
        return dict(
            fields,
            user_id=self.user(fields["user_id"]),
            prompt_text=self.text(prompt),
            response=self.text(response),
            error_message=self.text(fields.get("error_message")),
            messages=self.messages(fields.get("messages")),
            tool_calls=self.tool_calls(fields.get("tool_calls")),
            **noted,
        )

    def wire_update(self, event: Mapping[str, Any]) -> WireUpdate:
        """A wire event's fields at this level (the level may only go down), and whether it was lowered.

        Bilan's SDK markers are read for what they are: a ``[METADATA: …]`` marker becomes no text and
        its length, ``[REDACTED]`` text counts as ``sanitized``; each text keeps its own level, and
        ``properties.capture`` records the lowest. The level asked for is ``properties.capture`` (our
        client says it), else what the texts show.
        """
        props = dict(event.get("properties") or {})
        declared = _declared(props.get("capture"))
        prompt, answer = read_text(event.get("promptText")), read_text(event.get("aiResponse"))
        has_text = prompt.chars is not None or answer.chars is not None or _has_text_property(props)
        shown = [level for one in (prompt, answer) if (level := one.level) is not None]
        asked = declared if declared is not None else lowest_level([FULL, *shown])
        applied = self.at(lower_level(asked, self.level))
        props = applied.properties(props)
        if has_text:
            props["capture"] = applied.level
            props.update(_lengths(prompt, answer, props))
        update = {
            "userId": applied.user(str(event["userId"])),
            "promptText": self._text_at(prompt, declared),
            "aiResponse": self._text_at(answer, declared),
            "properties": props,
        }
        return WireUpdate(update, lowered=has_text and rank(asked) > rank(self.level))

    def _text_at(self, reading: TextReading, declared: CaptureLevel | None) -> str | None:
        """One text of an event at the lower of this level and the level it arrived at."""
        arrived = declared or reading.level or FULL
        return self.at(lower_level(arrived, self.level)).text(reading.text)

    def _redact_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redactor.redact(value)
        if isinstance(value, list):
            return [self._redact_json(item) for item in value]
        if isinstance(value, dict):
            return {
                name: item if name in LABEL_PROPERTIES else self._redact_json(item)
                for name, item in value.items()
            }
        return value


@dataclass(frozen=True)
class WireUpdate:
    """The fields to replace in a wire event, and True when the event asked for more than allowed."""

    fields: dict[str, Any]
    lowered: bool


def _has_text_property(props: Mapping[str, Any]) -> bool:
    return any(props.get(name) is not None for name in TEXT_PROPERTIES)


def _declared(value: object) -> CaptureLevel | None:
    """The level an event's ``capture`` property names, if it names one."""
    return cast(CaptureLevel, value) if isinstance(value, str) and value in get_args(CaptureLevel) else None


def _lengths(prompt: TextReading, answer: TextReading, props: Mapping[str, Any]) -> dict[str, int]:
    lengths = {"promptChars": prompt.chars, "responseChars": answer.chars}
    return {
        name: value
        for name, value in lengths.items()
        if value is not None and not isinstance(props.get(name), int)
    }


def _call_names(call: Any) -> Any:
    """A tool call without its arguments: its id, type and function name."""
    if not isinstance(call, dict):
        return None
    kept = {name: call[name] for name in ("id", "type", "name") if name in call}
    function = call.get("function")
    if isinstance(function, dict) and "name" in function:
        kept["function"] = {"name": function["name"]}
    return kept


class KeySource:
    """The key that hashes user ids at ``none``: ``BILAN_CAPTURE_KEY``, else a key file in the data folder.

    The file (``bilan-capture.key``, readable by its owner only) is made with a random key the first
    time it is needed and read afterwards, so one user's hash stays the same across restarts.
    """

    def __init__(self, key: str | None, data_dir: Path) -> None:
        self._given = key
        self._path = data_dir / KEY_FILE_NAME
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def key(self) -> bytes:
        """The key's bytes, loading or creating the key file on first use."""
        if self._given:
            return self._given.encode("utf-8")
        with self._lock:
            if self._key is None:
                self._key = _read_or_create_key(self._path)
            return self._key


def _read_or_create_key(path: Path) -> bytes:
    if not path.exists():
        # Written aside, then linked into place: a concurrent reader never sees a half-written key.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")


# Everything kept as given: the server's policy for a project that set no lower level.
FULL_CAPTURE = CapturePolicy.build(FULL, patterns={}, key=None, data_dir=Path("."))
