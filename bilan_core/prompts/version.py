"""``PromptVersion``: one immutable, numbered version of a named prompt, and how it compiles to messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from bilan_core.errors import PromptTemplateError
from bilan_core.prompts.templates import fill, placeholders

LATEST = "latest"  # the label that always points at a prompt's newest version
PRODUCTION = "production"  # the label ``get_prompt`` reads when none is asked for


class PromptMessage(BaseModel):
    """One message template of a prompt: a role and a text with ``{{variable}}`` placeholders."""

    model_config = ConfigDict(frozen=True)

    role: str
    content: str


class PromptVersion(BaseModel):
    """One version of a named prompt: message templates, optional model and parameters, labels, who and when.

    ``params`` may hold ``temperature``, ``max_tokens``, ``top_p``, ``seed`` and ``tools`` (True: the
    built-in tools on). ``labels`` are the labels pointing at this version when it was read.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    messages: tuple[PromptMessage, ...]
    model: str | None = None
    params: dict[str, Any] = {}
    labels: tuple[str, ...] = ()
    note: str | None = None
    author: str
    created_ms: int

    @property
    def variables(self) -> list[str]:
        """The placeholder names of every message, in order of first use."""
        names: list[str] = []
        for message in self.messages:
            names.extend(name for name in placeholders(message.content) if name not in names)
        return names

    @property
    def ref(self) -> str:
        """``name v3``: how a turn's free-text prompt version names this one."""
        return f"{self.name} v{self.version}"

    def compile(self, **variables: object) -> list[dict[str, str]]:
        """Chat messages with the variables filled in; PromptTemplateError naming a missing or unknown one."""
        expected = self.variables
        missing = [name for name in expected if name not in variables]
        unknown = sorted(set(variables) - set(expected))
        if missing or unknown:
            raise PromptTemplateError(self._mismatch(missing, unknown))
        values = {name: _text(name, value) for name, value in variables.items()}
        return [{"role": message.role, "content": fill(message.content, values)} for message in self.messages]

    def _mismatch(self, missing: list[str], unknown: list[str]) -> str:
        problems = []
        if missing:
            problems.append(f"missing variable(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown variable(s): {', '.join(unknown)}")
        wanted = ", ".join(self.variables) or "none"
        return f"prompt {self.ref}: {'; '.join(problems)} (it takes: {wanted})"


def _text(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PromptTemplateError(f"variable {name!r} must be text or a number, got {type(value).__name__}")
    return str(value)
