"""The Playground's rules: a submitted prompt, the messages sent, the figures line under an answer."""

from __future__ import annotations

from collections.abc import Sequence

from bilan_core.store.chat_history import ChatEntry


def validated_prompt(text: object) -> str:
    """The submitted prompt, unchanged; ValueError when it is not text or has nothing but spaces."""
    if not isinstance(text, str):
        raise ValueError(f"a message must be text, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the message is empty: type something to send")
    return text


def chat_messages(
    entries: Sequence[ChatEntry], *, system_prompt: str | None, prompt: str
) -> list[dict[str, str]]:
    """The messages to send for a new ``prompt``: system prompt, the answered history, then the prompt."""
    messages: list[dict[str, str]] = []
    if system_prompt and system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    for entry in entries:
        if entry.answered and entry.prompt_text and entry.response:
            messages.append({"role": "user", "content": entry.prompt_text})
            messages.append({"role": "assistant", "content": entry.response})
    messages.append({"role": "user", "content": prompt})
    return messages


def _number(value: float | int | None, unit: str = "") -> str:
    return "—" if value is None else f"{round(value):,}{unit}"


def figures_line(entry: ChatEntry) -> str:
    """Model, prompt and completion tokens, latency and time to first token, on one line."""
    parts = [
        entry.model,
        f"{_number(entry.prompt_tokens)} prompt + {_number(entry.completion_tokens)} completion tokens",
        f"latency {_number(entry.latency_ms, ' ms')}",
        f"TTFT {_number(entry.ttft_ms, ' ms')}",
    ]
    if entry.prompt_version:
        parts.append(f"prompt {entry.prompt_version}")
    if entry.status == "cancelled":
        parts.append("stopped early")
    return " · ".join(parts)


def failure_text(entry: ChatEntry) -> str:
    """The message shown in the chat for a failed turn, with the provider's reason."""
    kind = (entry.error_type or "error").replace("_", " ")
    reason = entry.error_message or "no reason given"
    return f"The model call failed ({kind}): {reason}"
