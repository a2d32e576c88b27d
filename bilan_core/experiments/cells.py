"""An experiment's variants and cells: how each dataset item is asked of each variant.

A variant is free messages (templates with ``{{variable}}`` placeholders; a string is one system
message) or a prompt version, with a model and parameters. A cell's messages are the variant's
templates filled with the item's variables (a text input is the variable ``input``), then the item's
text as the user message when the templates have none. Every cell is compiled when the run is stored,
so a missing variable is refused before anything is asked, and a resumed run asks exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bilan_core.prompts.templates import fill, placeholders
from bilan_core.prompts.version import PromptVersion
from bilan_core.store.batch_runs import NewBatchItem
from bilan_core.store.dataset_models import DatasetItem
from bilan_core.store.experiment_runs import PARAMETERS, Cell, ExperimentSettings, VariantSpec
from bilan_core.store.models import BatchItem

CallPlan = Callable[[BatchItem], tuple[list[dict[str, Any]], dict[str, Any]]]
ROLES = ("system", "user", "assistant")
TEXT_VARIABLES = ("input", "prompt", "question")
VARIANT_FIELDS = ("name", "model", "messages", "prompt", "temperature", "max_tokens")


@dataclass(frozen=True, kw_only=True)
class ExperimentVariant:
    """One variant of an experiment: free ``messages`` or a ``prompt`` version, a model and parameters."""

    name: str | None = None
    model: str | None = None
    messages: str | Sequence[Mapping[str, str]] | None = None
    prompt: PromptVersion | None = None
    temperature: float | None = None
    max_tokens: int | None = None


VariantLike = ExperimentVariant | Mapping[str, Any]


def render(template: str, variables: Mapping[str, Any]) -> str:
    """The template with each ``{{name}}`` filled; ValueError for a broken or unknown placeholder."""
    missing = [name for name in placeholders(template) if name not in variables]
    if missing:
        known = ", ".join(sorted(variables)) or "none"
        raise ValueError(f"no value for {{{{{missing[0]}}}}} (the item's variables: {known})")
    return fill(template, {name: str(value) for name, value in variables.items()})


def variant_spec(variant: VariantLike, *, number: int, default_model: str) -> VariantSpec:
    """The stored form of a variant given as ``ExperimentVariant``, a dict, or a prompt version."""
    if isinstance(variant, PromptVersion):
        variant = ExperimentVariant(prompt=variant)
    if isinstance(variant, Mapping):
        unknown = sorted(set(variant) - set(VARIANT_FIELDS))
        if unknown:
            fields = ", ".join(VARIANT_FIELDS)
            raise ValueError(f"variant {number}: unknown field {', '.join(unknown)}; a variant has {fields}")
        variant = ExperimentVariant(**variant)
    if not isinstance(variant, ExperimentVariant):
        raise ValueError(f"variant {number} must be an ExperimentVariant, a dict or a prompt version")
    prompt = variant.prompt
    if prompt is not None and not isinstance(prompt, PromptVersion):
        raise ValueError(f"variant {number}: prompt must be a PromptVersion (from get_prompt)")
    if prompt is not None and variant.messages is not None:
        raise ValueError(f"variant {number}: give messages or a prompt version, not both")
    params = {key: value for key, value in (prompt.params if prompt else {}).items() if key in PARAMETERS}
    for key in ("temperature", "max_tokens"):
        if getattr(variant, key) is not None:
            params[key] = getattr(variant, key)
    templates = variant.messages if prompt is None else [message.model_dump() for message in prompt.messages]
    return VariantSpec(
        name=variant.name or (prompt.ref if prompt else f"variant {number}"),
        model=variant.model or (prompt.model if prompt else None) or default_model,
        params=params,
        messages=_templates(templates, number),
        prompt=None if prompt is None else {"name": prompt.name, "version": prompt.version},
    )


def _templates(messages: Any, number: int) -> list[dict[str, str]] | None:
    if messages is None:
        return None
    if isinstance(messages, str):
        messages = [{"role": "system", "content": messages}]
    templates = []
    for message in messages:
        if not isinstance(message, Mapping) or message.get("role") not in ROLES:
            raise ValueError(f"variant {number}: each message needs a role ({', '.join(ROLES)}) and content")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"variant {number}: a {message['role']} message needs non-empty text")
        placeholders(content, where=f"variant {number}'s {message['role']} message")
        templates.append({"role": str(message["role"]), "content": content})
    return templates


def cell_messages(spec: VariantSpec, item_input: str | Mapping[str, Any]) -> list[dict[str, str]]:
    """The messages a variant sends for one item's input."""
    variables = {"input": item_input} if isinstance(item_input, str) else dict(item_input)
    messages = [
        {"role": message["role"], "content": render(message["content"], variables)}
        for message in spec.messages or []
    ]
    if not any(message["role"] == "user" for message in messages):
        messages.append({"role": "user", "content": _user_text(spec, item_input)})
    return messages


def _user_text(spec: VariantSpec, item_input: str | Mapping[str, Any]) -> str:
    if isinstance(item_input, str):
        return item_input
    for name in TEXT_VARIABLES:
        if isinstance(item_input.get(name), str) and item_input[name].strip():
            return str(item_input[name])
    raise ValueError(
        f"variant {spec.name!r} has no user message and the item has no "
        f"{', '.join(repr(name) for name in TEXT_VARIABLES)} variable to ask"
    )


def input_text(item_input: str | Mapping[str, Any]) -> str:
    """An item's input as one line of text for tables: the text, or ``name=value`` pairs."""
    if isinstance(item_input, str):
        return item_input
    return ", ".join(f"{name}={value}" for name, value in item_input.items())


def experiment_cells(settings: ExperimentSettings, items: Sequence[DatasetItem]) -> list[NewBatchItem]:
    """Every item × variant as a cell to store, item by item; ValueError naming the item that fails."""
    cells = []
    for item in items:
        for index, spec in enumerate(settings.variants):
            try:
                messages = cell_messages(spec, item.input)
            except ValueError as exc:
                raise ValueError(f"item {item.position + 1}: {exc}") from None
            cell = Cell(item=item.position, variant=index, messages=messages, expected=item.expected)
            cells.append(NewBatchItem(prompt=input_text(item.input), metadata=cell.model_dump()))
    return cells


def experiment_plan(settings: ExperimentSettings) -> tuple[CallPlan, int]:
    """How each cell of an experiment run is asked, and how many at once."""

    def ask(item: BatchItem) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        cell = Cell.model_validate(item.item_metadata or {})
        spec = settings.variants[cell.variant]
        options: dict[str, Any] = {"model": spec.model, "variant": spec.name, **spec.params}
        if spec.prompt is not None:
            # The turn records the stored version exactly (turns.prompt_name / prompt_number).
            options["prompt_ref"] = (spec.prompt["name"], spec.prompt["version"])
        return [dict(message) for message in cell.messages], options

    return ask, settings.concurrency
