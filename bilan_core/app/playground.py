"""The Playground's rules: a submitted prompt, the messages sent, the figures line under an answer, what
a failed or cut answer says, asking the last question again (Retry, Regenerate), and the conversation list's
lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bilan_core.store.chat_history import ChatEntry

# A long conversation is drawn from its newest turns; each "Show earlier messages" adds this many.
TURNS_PER_PAGE = 20


def validated_prompt(text: object) -> str:
    """The submitted prompt, unchanged; ValueError when it is not text or has nothing but spaces."""
    if not isinstance(text, str):
        raise ValueError(f"a message must be text, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the message is empty: type something to send")
    return text


def chat_window(entries: Sequence[ChatEntry], shown: int) -> tuple[list[ChatEntry], bool]:
    """The newest ``shown`` entries to draw, and whether there are earlier ones (read one more to know)."""
    return list(entries[-shown:]) if shown > 0 else [], len(entries) > shown


def chat_messages(
    entries: Sequence[ChatEntry], *, system_prompt: str | None, prompt: str
) -> list[dict[str, str]]:
    """The messages to send for a new ``prompt``: system prompt, the answered history, then the prompt."""
    messages: list[dict[str, str]] = []
    if system_prompt and system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    replaced = superseded(entries)
    for entry in entries:
        if entry.answered and entry.prompt_text and entry.response and entry.prompt_id not in replaced:
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
    """The message shown in the chat for a failed turn, with the provider's reason; an answer that had
    begun (its text is shown above this) is said to be cut off."""
    kind = (entry.error_type or "error").replace("_", " ")
    reason = entry.error_message or "no reason given"
    if entry.response:
        return f"The answer was cut off ({kind}): {reason}. The text above is what arrived before."
    return f"The model call failed ({kind}): {reason}"


def superseded(entries: Iterable[ChatEntry]) -> set[str]:
    """The prompt ids of the turns asked again later in the chat (they are kept, but not sent again)."""
    return {entry.regenerated_from for entry in entries if entry.regenerated_from}


@dataclass(frozen=True)
class AskAgain:
    """Asking a turn's question again: the button's label, the turn and the history sent before it."""

    label: str
    entry: ChatEntry
    history: list[ChatEntry]


def ask_again(entries: Sequence[ChatEntry]) -> AskAgain | None:
    """Retry after the last turn failed, Regenerate after it answered (fully, cut or stopped); None when
    the chat is empty or the last turn has no question to ask again."""
    if not entries or not entries[-1].prompt_text:
        return None
    last = entries[-1]
    label = "Regenerate" if last.answered else "Retry"
    return AskAgain(label=label, entry=last, history=list(entries[:-1]))


def on_first_chunk(stream: Iterable[str], callback: Callable[[], None]) -> Iterator[str]:
    """``stream`` unchanged, calling ``callback`` once when the first text arrives (or the stream ends)."""
    waiting = True
    for text in stream:
        if waiting:
            callback()
            waiting = False
        yield text
    if waiting:
        callback()


CAPTURE_NOTES = {
    "full": "texts are stored as typed",
    "sanitized": "personal data and secrets are replaced by placeholders before they are stored",
    "metadata": "no prompt, answer or comment text is stored: lengths, tokens, latency, model and votes are",
    "none": "no text is stored, and user ids only as keyed hashes",
}


def capture_caption(level: str) -> str:
    """The line that tells the Playground's user what is kept of what they type."""
    return f"Capture level in force: {level} — {CAPTURE_NOTES.get(level, 'unknown level')}."


def withheld_text(what: str, capture: str | None) -> str | None:
    """What to show for a missing ``what`` ("prompt", "answer"); None when it was not withheld."""
    if capture in ("metadata", "none"):
        return f"The {what} was not captured (capture level {capture})."
    return None


LIST_TITLE_CHARS = 28


def activity_time(at_ms: int, now_ms: int) -> str:
    """A short time for a conversation list (UTC): "today 14:05", "yesterday 09:12", "Nov 27 14:05",
    or "2025-11-27" for another year."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    days = (now.date() - at.date()).days
    if days == 0:
        return f"today {at:%H:%M}"
    if days == 1:
        return f"yesterday {at:%H:%M}"
    if at.year == now.year:
        return f"{at:%b} {at.day} {at:%H:%M}"
    return f"{at:%Y-%m-%d}"


def short_title(title: str | None) -> str:
    """A conversation's title on one line, cut to fit the conversation list."""
    shown = " ".join((title or "Untitled").split())
    if len(shown) > LIST_TITLE_CHARS:
        shown = shown[: LIST_TITLE_CHARS - 1].rstrip() + "…"
    return shown
