"""How ``bilan-demo`` lets the system prompt and the temperature show in its answers.

The system (and developer) messages steer the answer visibly: the answer opens by quoting their first
sentence (so a prompt's variables show), and words in them set a style (brief, bullet points, formal,
friendly, pirate, shouting, JSON, a language). The temperature adds variation: unset or 0 is fully
deterministic; above 0 a random opener and closing remark appear, more often as it rises (``seed``
makes a warm answer repeatable).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

SENTENCE = re.compile(r"(?<=[.!?])\s+")
QUOTE_LIMIT = 90
OPENERS = ("Well, ", "So, ", "Alright: ", "Let me think. ", "Interesting! ", "Here goes: ")
CLOSERS = (
    "Does that help?",
    "Ask me again and I may put it differently.",
    "That is my best guess today.",
    "Warm temperatures make me chatty.",
)
GREETINGS = {"french": "Bonjour ! ", "spanish": "¡Hola! ", "german": "Hallo! ", "italian": "Ciao! "}


def instructions(messages: list[dict[str, Any]]) -> str:
    """The text of the system and developer messages, joined."""
    parts = [m.get("content") for m in messages if m.get("role") in ("system", "developer")]
    return " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())


def warmth(temperature: object) -> float:
    """The request's temperature as a number; 0 when unset (the demo model's default is deterministic)."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        return 0.0
    return float(temperature)


def styled(answer: str, messages: list[dict[str, Any]], *, heat: float, rng: random.Random) -> str:
    """``answer`` as the system prompt and the temperature (``heat``, drawing on ``rng``) shape it."""
    rules = instructions(messages)
    if rules:
        answer = _follow(answer, rules)
    return _vary(answer, heat, rng) if heat > 0 else answer


def _follow(answer: str, rules: str) -> str:
    lowered = rules.lower()
    first = SENTENCE.split(rules, maxsplit=1)[0]
    quoted = first if len(first) <= QUOTE_LIMIT else first[: QUOTE_LIMIT - 1] + "…"
    text = f"Following my instructions (“{quoted}”): {answer}"
    for words, change in STYLES:
        if any(word in lowered for word in words):
            text = change(text)
    for language, greeting in GREETINGS.items():
        if language in lowered:
            text = greeting + text
    return text


def _brief(text: str) -> str:
    return SENTENCE.split(text, maxsplit=1)[0]


def _bullets(text: str) -> str:
    return "\n".join(f"- {sentence}" for sentence in SENTENCE.split(text) if sentence)


def _pirate(text: str) -> str:
    return "Arr! " + re.sub(r"\bthe\b", "th'", re.sub(r"\byou\b", "ye", text))


STYLES: tuple[tuple[tuple[str, ...], Callable[[str], str]], ...] = (
    (("brief", "concise", "short", "one sentence", "terse"), _brief),
    (("bullet", "list", "points"), _bullets),
    (("formal", "polite"), lambda text: f"Dear user, {text} Kind regards."),
    (("friendly", "warm", "cheerful", "enthusiastic"), lambda text: f"Great question! {text} 😊"),
    (("pirate",), _pirate),
    (("uppercase", "shout"), str.upper),
    (("json",), lambda text: json.dumps({"answer": text}, ensure_ascii=False)),
)


def _vary(text: str, heat: float, rng: random.Random) -> str:
    chance = min(1.0, heat / 1.5)
    if rng.random() < chance:
        text = rng.choice(OPENERS) + text
    if rng.random() < chance:
        text = f"{text} {rng.choice(CLOSERS)}"
    if heat > 1 and rng.random() < heat - 1:
        words = text.split(" ")
        position = rng.randrange(len(words))
        words.insert(position, rng.choice(("really", "quite", "honestly", "perhaps", "surely")))
        text = " ".join(words)
    return text
