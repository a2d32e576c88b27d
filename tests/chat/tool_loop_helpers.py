"""What the tool loop tests share: the question, the final answer and a reader of ``tool`` messages."""

from __future__ import annotations

from typing import Any

QUESTION = [{"role": "user", "content": "What is six times seven?"}]
FINAL = "Six times seven is 42."


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tool`` messages of a recorded request body."""
    return [message for message in body["messages"] if message["role"] == "tool"]
