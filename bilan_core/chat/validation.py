"""The checks a chat call passes before the model is asked: messages, options and labels.

Bad input raises ValueError naming the first thing wrong, before any request is sent or row written.
The label rules (non-empty, at most 200 characters, no NUL) are ``bilan_core.limits``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bilan_core.limits import check_optional_label, check_storable

ROLES = ("system", "developer", "user", "assistant", "tool")
# Bilan sets these itself; as extra options they would contradict what is recorded.
RESERVED_OPTIONS = frozenset({"messages", "stream", "stream_options"})
LABEL_OPTIONS = ("model", "conversation_id", "variant", "user_id", "regenerated_from")


def validate_messages(messages: object) -> list[dict[str, Any]]:
    """Return ``messages`` if it is a non-empty list of ``{role, content}`` dicts, else raise ValueError."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for index, message in enumerate(messages):
        _check_message(index, message)
    return messages


def _check_message(index: int, message: object) -> None:
    if not isinstance(message, dict):
        raise ValueError(
            f"messages[{index}] must be a dict with 'role' and 'content', got {type(message).__name__}"
        )
    role = message.get("role")
    if role not in ROLES:
        raise ValueError(f"messages[{index}] has unknown role {role!r}; use one of {', '.join(ROLES)}")
    if "content" not in message:
        raise ValueError(f"messages[{index}] ({role}) has no 'content'")
    content = message["content"]
    if content is None and not (role == "assistant" and message.get("tool_calls")):
        raise ValueError(f"messages[{index}] ({role}) has empty content (None)")
    if content is not None and not isinstance(content, str | list):
        raise ValueError(
            f"messages[{index}] content must be text or a list of parts, got {type(content).__name__}"
        )
    check_storable(f"messages[{index}]", message)  # refused before the model is asked


def validate_options(options: Mapping[str, object]) -> None:
    """Raise ValueError naming the first chat option that is out of range or of the wrong type."""
    temperature = options.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        raise ValueError(f"temperature must be a number from 0 to 2, got {temperature!r}")
    max_tokens = options.get("max_tokens")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise ValueError(f"max_tokens must be a whole number of at least 1, got {max_tokens!r}")
    for name in LABEL_OPTIONS:
        check_optional_label(name, options.get(name))
    tools = options.get("tools")
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools)
    ):
        raise ValueError("tools must be a list of tool definition dicts")
    tool_choice = options.get("tool_choice")
    if tool_choice is not None and not isinstance(tool_choice, str | dict):
        raise ValueError(f"tool_choice must be 'auto', 'none', 'required' or a dict, got {tool_choice!r}")
    route = options.get("route")
    if route is not None and not isinstance(route, dict):
        raise ValueError(f"route must be a dict (the routing decision), got {type(route).__name__}")
    reserved = RESERVED_OPTIONS & set(options)
    if reserved:
        raise ValueError(f"{', '.join(sorted(reserved))} cannot be passed as extra options; Bilan sets them")


def last_user_text(messages: list[dict[str, Any]]) -> str | None:
    """The text of the last user message (text parts joined), or None."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict)) or None
    return None
