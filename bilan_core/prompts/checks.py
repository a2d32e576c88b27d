"""The checks of a new prompt version, shared by the SDK (both modes), the server, the CLI and the app.

Everything is checked before anything is stored, so a refused version leaves no trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bilan_core.limits import MAX_PROMPT_LENGTH, check_label, check_optional_label, check_storable
from bilan_core.prompts.templates import placeholders
from bilan_core.prompts.version import LATEST, PromptMessage

ROLES = ("system", "developer", "user", "assistant")
MAX_MESSAGES = 100
MAX_NOTE_LENGTH = 10_000
# What a version's ``params`` may hold, and the type each must have.
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": (int,),
    "seed": (int,),
    "tools": (bool,),
}
PARAM_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "max_tokens": (1, 1_000_000)}


def checked_name(name: object) -> str:
    """A prompt name: non-empty text of at most 200 characters."""
    return check_label("prompt name", name)


def checked_label(label: object) -> str:
    """A label a caller may set: any label name but ``latest``, which moves by itself."""
    checked = check_label("label", label)
    if checked == LATEST:
        raise ValueError("the label 'latest' always points at the newest version; it cannot be set")
    return checked


def checked_labels(labels: Iterable[object]) -> tuple[str, ...]:
    """Labels for a new version, each once."""
    if isinstance(labels, str):
        labels = (labels,)
    checked = tuple(checked_label(label) for label in labels)
    repeated = sorted({label for label in checked if checked.count(label) > 1})
    if repeated:
        raise ValueError(f"label(s) given twice: {', '.join(repeated)}")
    return checked


MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer


def checked_version(version: object) -> int:
    """A version number: a whole number from 1."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise ValueError(f"a prompt version is a whole number from 1, got {version!r}")
    return version


def checked_messages(messages: object) -> tuple[PromptMessage, ...]:
    """Message templates from a string (one system message) or a list of {role, content} mappings."""
    if isinstance(messages, str):
        messages = [{"role": "system", "content": messages}]
    if not isinstance(messages, list | tuple) or not messages:
        raise ValueError("messages must be a non-empty string or a non-empty list of {role, content}")
    if len(messages) > MAX_MESSAGES:
        raise ValueError(f"a prompt has at most {MAX_MESSAGES} messages, got {len(messages)}")
    return tuple(_message(position, item) for position, item in enumerate(messages, start=1))


def _message(position: int, item: object) -> PromptMessage:
    if isinstance(item, PromptMessage):
        item = item.model_dump()
    if not isinstance(item, Mapping) or set(item) != {"role", "content"}:
        raise ValueError(f"message {position} must be a mapping with exactly 'role' and 'content'")
    role, content = item["role"], item["content"]
    if role not in ROLES:
        raise ValueError(f"message {position} has role {role!r}; use one of {', '.join(ROLES)}")
    if not isinstance(content, str) or not content.strip():
        raise ValueError(f"message {position} must have non-empty text content")
    if len(content) > MAX_PROMPT_LENGTH:
        raise ValueError(
            f"message {position} is {len(content):,} characters; the limit is {MAX_PROMPT_LENGTH:,}"
        )
    check_storable(f"message {position}", content)
    placeholders(content, where=f"message {position}")
    return PromptMessage(role=role, content=content)


def checked_params(params: object) -> dict[str, Any]:
    """A version's parameters: only the known ones, each of its type and in its range."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping, got {type(params).__name__}")
    unknown = sorted(set(params) - set(PARAM_TYPES))
    if unknown:
        raise ValueError(
            f"unknown prompt parameter(s): {', '.join(map(str, unknown))}; use {', '.join(PARAM_TYPES)}"
        )
    return {name: _param(name, value) for name, value in params.items() if value is not None}


def _param(name: str, value: object) -> Any:
    kinds = PARAM_TYPES[name]
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ValueError(
            f"prompt parameter {name} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}"
        )
    low, high = PARAM_RANGES.get(name, (None, None))
    if low is not None and high is not None and not low <= value <= high:  # type: ignore[operator]
        raise ValueError(f"prompt parameter {name} must be from {low} to {high}, got {value!r}")
    return value


def checked_note(note: object) -> str | None:
    """An optional note of at most 10,000 characters."""
    if note is None or note == "":
        return None
    if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
        raise ValueError(f"note must be text of at most {MAX_NOTE_LENGTH:,} characters")
    check_storable("note", note)
    return note


def checked_model(model: object) -> str | None:
    """An optional model name."""
    return check_optional_label("model", model)
