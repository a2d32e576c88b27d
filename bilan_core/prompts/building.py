"""From a caller's arguments to a checked new version, and from a stored version to a ``PromptVersion``."""

from __future__ import annotations

from collections.abc import Iterable

from bilan_core.prompts.checks import (
    checked_labels,
    checked_messages,
    checked_model,
    checked_name,
    checked_note,
    checked_params,
)
from bilan_core.prompts.version import PromptMessage, PromptVersion
from bilan_core.store.prompts import NewPromptVersion, StoredPromptVersion


def new_prompt_version(
    name: object,
    messages: object,
    *,
    author: str,
    model: object = None,
    params: object = None,
    labels: Iterable[object] = (),
    note: object = None,
) -> NewPromptVersion:
    """A new version with every field checked (ValueError / PromptTemplateError naming what is wrong)."""
    return NewPromptVersion(
        name=checked_name(name),
        messages=[message.model_dump() for message in checked_messages(messages)],
        model=checked_model(model),
        params=checked_params(params),
        labels=list(checked_labels(labels)),
        note=checked_note(note),
        author=author,
    )


def prompt_version_of(stored: StoredPromptVersion) -> PromptVersion:
    """The ``PromptVersion`` value of a stored version."""
    return PromptVersion(
        name=stored.name,
        version=stored.version,
        messages=tuple(PromptMessage(**message) for message in stored.messages),
        model=stored.model,
        params=dict(stored.params),
        labels=tuple(stored.labels),
        note=stored.note,
        author=stored.author,
        created_ms=stored.created_ms,
    )
