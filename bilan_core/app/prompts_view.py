"""The Prompts page's rules without Streamlit: the versions table, a version as text, two versions' diff,
and the Playground's link to stored prompts (loading a version into its boxes, saving the boxes).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bilan_core.analytics.prompt_figures import VersionFigures
from bilan_core.errors import PromptTemplateError
from bilan_core.pricing import Price
from bilan_core.prompts.version import PromptVersion

SYSTEM_ROLES = ("system", "developer")
VERSION_COLUMNS = (
    "Version", "Labels", "Model", "Parameters", "Note", "Author", "Saved (UTC)", "Answers", "👍 up",
    "👎 down", "Trust score", "95% interval", "Cost (USD)", "Median latency (ms)",
)  # fmt: skip


def versions_table(
    versions: Sequence[PromptVersion], figures: Sequence[VersionFigures], prices: Mapping[str, Price]
) -> pd.DataFrame:
    """One row per version, newest first: what it is, its labels, and how its answers did."""
    by_version = {figure.version: figure for figure in figures}
    rows = [_row(version, by_version.get(version.version), prices) for version in versions]
    return pd.DataFrame(rows, columns=list(VERSION_COLUMNS))


def _row(version: PromptVersion, figure: VersionFigures | None, prices: Mapping[str, Price]) -> list[Any]:
    described = [
        version.version,
        ", ".join(version.labels),
        version.model or "",
        ", ".join(f"{name}={value}" for name, value in version.params.items()),
        version.note or "",
        version.author,
        datetime.fromtimestamp(version.created_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M"),
    ]
    if figure is None:
        return [*described, 0, 0, 0, None, "", None, None]
    return [
        *described,
        figure.turns,
        figure.positive_votes,
        figure.negative_votes,
        None if figure.trust_score is None else round(figure.trust_score, 3),
        _interval(figure),
        figure.cost(prices),
        None if figure.median_latency_ms is None else round(figure.median_latency_ms),
    ]


def _interval(figure: VersionFigures) -> str:
    if figure.confidence_low is None or figure.confidence_high is None:
        return ""
    return f"{figure.confidence_low:.2f}–{figure.confidence_high:.2f}"


def version_text(version: PromptVersion) -> str:
    """A version as plain text: its model and parameters, then each message under its role."""
    lines = [f"model: {version.model or '(the call’s)'}"]
    lines += [f"{name}: {value}" for name, value in version.params.items()]
    for message in version.messages:
        lines += ["", f"[{message.role}]", *message.content.splitlines()]
    return "\n".join(lines)


def versions_diff(older: PromptVersion, newer: PromptVersion) -> str:
    """A unified diff from one version's text to another's (empty when they are the same)."""
    diff = difflib.unified_diff(
        version_text(older).splitlines(),
        version_text(newer).splitlines(),
        fromfile=older.ref,
        tofile=newer.ref,
        lineterm="",
    )
    return "\n".join(diff)


@dataclass(frozen=True)
class PlaygroundPrompt:
    """What loading a version puts in the Playground's boxes."""

    system_prompt: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    tools: bool | None
    label: str


def load_into_playground(version: PromptVersion, variables: Mapping[str, object]) -> PlaygroundPrompt:
    """The version's system text, variables filled in, and its settings (PromptTemplateError if not)."""
    blank = [name for name in version.variables if not str(variables.get(name) or "").strip()]
    if blank:
        raise PromptTemplateError(f"{version.ref} needs a value for: {', '.join(blank)}")
    compiled = version.compile(**dict(variables))
    system = "\n\n".join(m["content"] for m in compiled if m["role"] in SYSTEM_ROLES)
    params = version.params
    return PlaygroundPrompt(
        system_prompt=system,
        model=version.model,
        temperature=params.get("temperature"),
        max_tokens=params.get("max_tokens"),
        tools=params.get("tools"),
        label=version.ref,
    )


def playground_version(
    *, system_prompt: object, model: object, temperature: object, max_tokens: object, tools: object
) -> dict[str, Any]:
    """The Playground's boxes as ``create_prompt`` arguments: the system prompt, model and parameters."""
    if not isinstance(system_prompt, str) or not system_prompt.strip():
        raise ValueError("the system prompt is empty: write one to save it as a prompt version")
    params = {"temperature": temperature, "max_tokens": max_tokens, "tools": bool(tools)}
    return {
        "messages": system_prompt.strip(),
        "model": model if isinstance(model, str) and model.strip() and model != "auto" else None,
        "params": {name: value for name, value in params.items() if value is not None},
    }
