"""Tracked chat calls (being written: see the chat helper's task)."""

from __future__ import annotations


class TrackedChat:
    """Mixin for ``Bilan``: tracked OpenAI chat calls."""

    def close_chat_clients(self) -> None:
        """Close the OpenAI clients this Bilan client opened."""
