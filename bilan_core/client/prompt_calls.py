"""The client's prompt calls, in either mode: create, read, label and list versioned prompts.

``Bilan`` inherits them. Each checks its input here (so a refused call sends nothing) and goes through
the client's backend: the local database, or the server in the key's project (with a cache there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bilan_core.analytics.prompt_figures import VersionFigures
from bilan_core.client.backend import Backend
from bilan_core.limits import check_label
from bilan_core.prompts.building import new_prompt_version, prompt_version_of
from bilan_core.prompts.checks import checked_label, checked_name, checked_version
from bilan_core.prompts.version import PRODUCTION, PromptVersion
from bilan_core.store.prompts import PromptSummary


class PromptCalls:
    """``create_prompt``, ``get_prompt``, ``set_prompt_label``, ``list_prompts``, ``prompt_versions``."""

    backend: Backend
    user_id: str

    def create_prompt(
        self,
        name: str,
        messages: str | list[dict[str, str]],
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        labels: Iterable[str] = (),
        note: str | None = None,
    ) -> PromptVersion:
        """Save the prompt's next version (a string is one system message), its labels moved onto it."""
        new = new_prompt_version(
            name, messages, author=self.user_id, model=model, params=params, labels=labels, note=note
        )
        return prompt_version_of(self.backend.add_prompt_version(new))

    def get_prompt(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
        """One version, by number or label (default ``production``); PromptNotFoundError names what exists."""
        if label is not None and version is not None:
            raise ValueError("give a label or a version, not both")
        checked = checked_name(name)
        if version is not None:
            return prompt_version_of(
                self.backend.find_prompt_version(name=checked, version=checked_version(version), label=None)
            )
        wanted = PRODUCTION if label is None else check_label("label", label)
        return prompt_version_of(self.backend.find_prompt_version(name=checked, version=None, label=wanted))

    def set_prompt_label(self, name: str, version: int, label: str) -> PromptVersion:
        """Point ``label`` at a version (moving it off the one it was on): promote or roll back."""
        stored = self.backend.set_prompt_label(
            name=checked_name(name), version=checked_version(version), label=checked_label(label)
        )
        return prompt_version_of(stored)

    def list_prompts(self) -> list[PromptSummary]:
        """Every prompt by name, with its newest version, its number of versions and its labels."""
        return self.backend.list_prompts()

    def prompt_versions(self, name: str) -> list[PromptVersion]:
        """Every version of a prompt, newest first, each with its labels; PromptNotFoundError if none."""
        return [prompt_version_of(stored) for stored in self.backend.prompt_versions(name=checked_name(name))]

    def prompt_figures(self, name: str) -> list[VersionFigures]:
        """Each version of a prompt with answers: trust score and interval, votes, tokens, median latency."""
        return self.backend.prompt_figures(name=checked_name(name))
