"""``prompt=`` and ``variables=`` of the tracked chat calls: a stored prompt version compiled into a request.

The version's messages, filled with the variables, come before the caller's messages; its model and
parameters apply where the call gives none. The turn records the version exactly (``prompt_ref``: name
and number, in ``turns.prompt_name`` / ``prompt_number``) and, unless the call names one, ``name vN`` as
its free-text prompt version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bilan_core.prompts.version import PromptVersion

PROMPT_OPTIONS = ("prompt", "variables")
SENT_PARAMS = ("temperature", "max_tokens", "top_p", "seed")  # ``tools`` is for the Playground and loops


def apply_prompt(messages: object, options: Mapping[str, Any]) -> tuple[object, dict[str, Any]]:
    """The request's messages and options with ``prompt=`` compiled in (unchanged without one)."""
    prompt, variables = options.get("prompt"), options.get("variables")
    rest = {name: value for name, value in options.items() if name not in PROMPT_OPTIONS}
    _check_ref(rest.get("prompt_ref"))
    if prompt is None:
        if variables is not None:
            raise ValueError("variables= fills a prompt's placeholders: pass prompt= too")
        return messages, rest
    if not isinstance(prompt, PromptVersion):
        raise ValueError(f"prompt must be a PromptVersion (from get_prompt), got {type(prompt).__name__}")
    if variables is not None and not isinstance(variables, Mapping):
        raise ValueError(f"variables must be a mapping of names to values, got {type(variables).__name__}")
    if not isinstance(messages, list):
        raise ValueError("messages must be a list (it may be empty when prompt= gives the messages)")
    compiled: list[dict[str, Any]] = list(prompt.compile(**{str(k): v for k, v in (variables or {}).items()}))
    for name in SENT_PARAMS:
        if rest.get(name) is None and name in prompt.params:
            rest[name] = prompt.params[name]
    if rest.get("model") is None and prompt.model:
        rest["model"] = prompt.model
    if rest.get("variant") is None:
        rest["variant"] = prompt.ref
    rest["prompt_ref"] = (prompt.name, prompt.version)
    return compiled + messages, rest


def _check_ref(ref: object) -> None:
    if ref is None:
        return
    if not (isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str) and type(ref[1]) is int):
        raise ValueError("prompt_ref is set by prompt=; pass prompt=<PromptVersion> instead")
