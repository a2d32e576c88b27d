"""The keyword options of the tracked chat calls and the tool loop, typed for ``**options: Unpack[...]``.

The ``Bilan`` methods and the module-level functions share these, so a type checker knows every option.
At run time any other keyword still reaches the provider as an extra option, as the openai SDK allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from bilan_core.chat.tools import Tool, ToolRegistry
    from bilan_core.prompts.version import PromptVersion

# Options of the openai SDK's transport: sent with the request but not parameters of the answer.
TRANSPORT_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
DEFAULT_MAX_STEPS = 5  # model rounds a tool loop may take before it stops


class ToolLoopOptions(TypedDict, total=False):
    """The options of a tool loop call: every chat option but ``tools`` and ``route``.

    ``model="auto"`` lets the routing policy pick the model; ``None`` (or leaving it out) means the
    configured default model. ``prompt=`` (a stored ``PromptVersion``) with ``variables=`` puts the
    version's compiled messages first and records it on the turn. ``regenerated_from`` names the
    ``prompt_id`` of an earlier answer this call asks again (Retry, Regenerate): both turns are kept,
    linked by ``turns.regenerated_from``. Besides Bilan's labels, the common
    provider options are listed; they are sent as given and kept in ``turns.parameters`` (the
    transport ones are sent only).
    """

    model: str | None
    temperature: float | None
    max_tokens: int | None
    tool_choice: str | dict[str, Any] | None
    conversation_id: str | None
    variant: str | None
    user_id: str | None
    regenerated_from: str | None
    prompt: PromptVersion | None
    variables: dict[str, object] | None
    seed: int
    top_p: float
    stop: str | list[str]
    frequency_penalty: float
    presence_penalty: float
    response_format: dict[str, Any]
    parallel_tool_calls: bool
    logit_bias: dict[str, int]
    extra_headers: dict[str, str]
    extra_query: dict[str, object]
    extra_body: dict[str, object]
    timeout: float


class ChatOptions(ToolLoopOptions, total=False):
    """The options of a tracked chat call: the tool loop's, plus tool definitions and a routing record."""

    tools: list[dict[str, Any]] | None
    route: dict[str, Any] | None


class ToolRunOptions(ToolLoopOptions, total=False):
    """The options of ``run_with_tools`` and its twins: the tool loop's, plus the tools and the step limit.

    ``tools`` defaults to the built-in tools; ``max_steps`` (tool rounds before the loop stops, 1 to 50)
    to ``DEFAULT_MAX_STEPS``.
    """

    tools: ToolRegistry | Iterable[Tool] | None
    max_steps: int
