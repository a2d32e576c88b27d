"""The module-level API: ``init()`` makes a default client that the plain functions use."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Unpack

from bilan_core.chat.options import ChatOptions, ToolRunOptions
from bilan_core.settings import load_settings

if TYPE_CHECKING:
    from bilan_core.analytics.bradley_terry import Leaderboard
    from bilan_core.analytics.filters import AnalyticsFilter
    from bilan_core.analytics.stats import PromptStats, Stats, StatsFilters
    from bilan_core.chat.responses import TrackedChatResponse
    from bilan_core.chat.routing import RouteDecision
    from bilan_core.chat.streaming import AsyncStreamingChatResponse, StreamingChatResponse
    from bilan_core.chat.tool_loop import ToolLoopResponse
    from bilan_core.chat.tool_streaming import AsyncToolStreamingResponse, ToolStreamingResponse
    from bilan_core.client.bilan import Bilan
    from bilan_core.client.review_calls import ReviewSession
    from bilan_core.experiments.cells import ExperimentVariant
    from bilan_core.experiments.comparisons import ComparisonResult, Variant
    from bilan_core.experiments.experiment_report import RunComparison
    from bilan_core.experiments.experiment_runs import ExperimentRun
    from bilan_core.prompts.version import PromptVersion
    from bilan_core.reviews.report import ReviewReport
    from bilan_core.store.dataset_models import Dataset
    from bilan_core.store.datasets import DatasetContents
    from bilan_core.store.models import BatchRun, Comparison, Vote
    from bilan_core.store.prompts import PromptSummary
    from bilan_core.store.removal import RemovalReport
    from bilan_core.store.review_models import ReviewSessionInfo

# The client, chat (openai), experiments (pandas) and the store load on first use, not on import:
# ``import bilan_core`` stays fast for apps and command lines that only need part of it.

_default: Bilan | None = None
_lock = threading.Lock()


def init(
    mode: str | None = None,
    api_key: str | None = None,
    user_id: str | None = None,
    telemetry: bool | None = None,
    database_url: str | None = None,
    *,
    endpoint: str | None = None,
    openai_api_key: str | None = None,
    openai_base_url: str | None = None,
    team_session: str | None = None,
    **settings: Any,
) -> Bilan:
    """Create a client from arguments and the environment, and make it the module default."""
    from bilan_core.client.bilan import Bilan

    global _default
    client = Bilan(
        load_settings(
            mode=mode,
            api_key=api_key,
            user_id=user_id,
            telemetry=telemetry,
            database_url=database_url,
            endpoint=endpoint,
            openai_api_key=openai_api_key,
            openai_base_url=openai_base_url,
            **settings,
        ),
        team_session=team_session,
    )
    with _lock:
        previous, _default = _default, client
    if previous is not None:
        previous.close()
    return client


def get_client() -> Bilan:
    """The default client; made from the environment on first use if ``init()`` was not called."""
    from bilan_core.client.bilan import Bilan

    global _default
    with _lock:
        if _default is None:
            _default = Bilan()
        return _default


def flush(timeout: float = 10.0) -> bool:
    """Wait until the default client's queued events reach the server (server mode); True if none is left."""
    return get_client().flush(timeout)


def close() -> None:
    """Drain and close the default client; the next module-level call makes a new one."""
    global _default
    with _lock:
        previous, _default = _default, None
    if previous is not None:
        previous.close()


def vote(prompt_id: str, value: int, comment: str | None = None, *, user_id: str | None = None) -> Vote:
    """Record 👍 (1) or 👎 (-1) on an answer with the default client."""
    return get_client().vote(prompt_id, value, comment, user_id=user_id)


def clear_vote(prompt_id: str, *, user_id: str | None = None) -> bool:
    """Remove the user's vote on an answer with the default client."""
    return get_client().clear_vote(prompt_id, user_id=user_id)


def forget_user(user_id: str) -> RemovalReport:
    """Delete everything stored of a user with the default client; what went."""
    return get_client().forget_user(user_id)


def get_stats(**filters: Unpack[StatsFilters]) -> Stats:
    """Trust figures with the default client (filters as ``Bilan.get_stats``)."""
    return get_client().get_stats(**filters)


def get_prompt_stats(prompt_id: str) -> PromptStats:
    """Votes and comments on one answer with the default client."""
    return get_client().get_prompt_stats(prompt_id)


def create_prompt(
    name: str,
    messages: str | list[dict[str, str]],
    *,
    model: str | None = None,
    params: dict[str, Any] | None = None,
    labels: Iterable[str] = (),
    note: str | None = None,
) -> PromptVersion:
    """Save a prompt's next version with the default client."""
    return get_client().create_prompt(name, messages, model=model, params=params, labels=labels, note=note)


def get_prompt(name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
    """One version of a prompt (default label ``production``) with the default client."""
    return get_client().get_prompt(name, label=label, version=version)


def set_prompt_label(name: str, version: int, label: str) -> PromptVersion:
    """Point a label at a version of a prompt with the default client."""
    return get_client().set_prompt_label(name, version, label)


def list_prompts() -> list[PromptSummary]:
    """Every prompt with its newest version and labels, with the default client."""
    return get_client().list_prompts()


def prompt_versions(name: str) -> list[PromptVersion]:
    """Every version of a prompt, newest first, with the default client."""
    return get_client().prompt_versions(name)


def track(event_type: str, properties: dict[str, Any] | None = None) -> str:
    """Record a custom event with the default client."""
    return get_client().track(event_type, properties)


def start_conversation(title: str | None = None, *, conversation_id: str | None = None) -> str:
    """Open a conversation with the default client."""
    return get_client().start_conversation(title, conversation_id=conversation_id)


def end_conversation(conversation_id: str, status: str = "completed") -> None:
    """Close a conversation with the default client."""
    get_client().end_conversation(conversation_id, status)


def create_chat_completion(
    messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
) -> TrackedChatResponse:
    """A tracked chat completion with the default client (see ``Bilan.create_chat_completion``)."""
    return get_client().create_chat_completion(messages, **options)


def create_streaming_chat(
    messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
) -> StreamingChatResponse:
    """A tracked streaming chat with the default client (see ``Bilan.create_streaming_chat``)."""
    return get_client().create_streaming_chat(messages, **options)


async def acreate_chat_completion(
    messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
) -> TrackedChatResponse:
    """The async twin of ``create_chat_completion``."""
    return await get_client().acreate_chat_completion(messages, **options)


async def acreate_streaming_chat(
    messages: list[dict[str, Any]], **options: Unpack[ChatOptions]
) -> AsyncStreamingChatResponse:
    """The async twin of ``create_streaming_chat``."""
    return await get_client().acreate_streaming_chat(messages, **options)


def run_with_tools(
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolLoopResponse:
    """The tool loop with the default client (see ``Bilan.run_with_tools``)."""
    return get_client().run_with_tools(messages, **options)


async def arun_with_tools(
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolLoopResponse:
    """The async twin of ``run_with_tools``."""
    return await get_client().arun_with_tools(messages, **options)


def stream_with_tools(
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> ToolStreamingResponse:
    """The streamed tool loop with the default client (see ``Bilan.stream_with_tools``)."""
    return get_client().stream_with_tools(messages, **options)


async def astream_with_tools(
    messages: list[dict[str, Any]],
    **options: Unpack[ToolRunOptions],
) -> AsyncToolStreamingResponse:
    """The async twin of ``stream_with_tools``."""
    return await get_client().astream_with_tools(messages, **options)


def route_model() -> RouteDecision:
    """The routing policy's choice of model now, with the default client."""
    return get_client().route_model()


def list_models() -> list[str]:
    """The models the configured endpoint offers (or the configured default list)."""
    return get_client().list_models()


def compare(
    prompt: str,
    variant_a: Variant | str | dict[str, Any],
    variant_b: Variant | str | dict[str, Any],
    *,
    blind: bool | None = None,
    max_tokens: int | None = None,
) -> ComparisonResult:
    """Ask two variants one prompt and store the A/B comparison, with the default client."""
    from bilan_core.experiments.comparisons import compare as compare_variants

    client = get_client()
    return compare_variants(client, prompt, variant_a, variant_b, blind=blind, max_tokens=max_tokens)


def record_preference(comparison_id: str, winner: str, comment: str | None = None) -> Comparison:
    """Record the verdict on a comparison (``a``, ``b``, ``tie``, ``both_bad``) with the default client."""
    from bilan_core.experiments.comparisons import record_preference as record_verdict

    return record_verdict(get_client(), comparison_id, winner, comment)


def leaderboard(
    *, since: datetime | int | None = None, team_session: str | None = None, min_votes: int | None = None
) -> Leaderboard:
    """The Bradley–Terry leaderboard of the stored comparisons, with the default client."""
    from bilan_core.experiments.comparisons import comparison_leaderboard

    return comparison_leaderboard(get_client(), since=since, team_session=team_session, min_votes=min_votes)


def run_batch_file(
    path: str,
    *,
    model: str | None = None,
    concurrency: int | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    system_prompt: str | None = None,
) -> BatchRun:
    """Run a CSV/TXT/JSONL file of prompts as a stored batch run with the default client."""
    from bilan_core.chat.routing import resolve_model
    from bilan_core.experiments.batch_runs import BatchOptions, run_batch, start_batch

    client = get_client()
    options = BatchOptions(
        model=resolve_model(model, client.settings).model,
        concurrency=client.settings.batch_concurrency if concurrency is None else concurrency,
        temperature=temperature,
        max_tokens=max_tokens,
        system_prompt=system_prompt,
    )
    run = start_batch(client, file_name=path, options=options)
    return run_batch(client, run.id)


def resume_batch(run_id: str) -> BatchRun:
    """Finish the pending items of a stored batch run with the default client."""
    from bilan_core.experiments.batch_runs import run_batch

    return run_batch(get_client(), run_id)


def create_dataset(name: str, items: Iterable[Any] = (), *, description: str | None = None) -> Dataset:
    """Store a new dataset with its items (texts, or dicts of ``input``, ``expected``, ``metadata``)."""
    return get_client().create_dataset(name, items, description=description)


def add_dataset_items(name: str, items: Iterable[Any]) -> Dataset:
    """Append items to a dataset, all or none, with the default client."""
    return get_client().add_dataset_items(name, items)


def get_dataset(name: str) -> DatasetContents:
    """A dataset and its items, with the default client."""
    return get_client().get_dataset(name)


def import_dataset(name: str, path: str, *, description: str | None = None) -> Dataset:
    """Create a dataset from a CSV, JSONL or TXT file, with the default client."""
    from bilan_core.experiments.datasets import import_dataset as import_file

    return import_file(get_client(), name, path, description=description)


def add_turns_to_dataset(name: str, prompt_ids: Sequence[str]) -> Dataset:
    """Append recorded turns' prompts to a dataset (e.g. the answers people disliked)."""
    return get_client().add_turns_to_dataset(name, prompt_ids)


def run_experiment(
    dataset: str,
    variants: Sequence[ExperimentVariant | dict[str, Any]],
    *,
    name: str | None = None,
    concurrency: int = 8,
) -> ExperimentRun:
    """Run every item of a dataset through every variant (each cell a recorded turn) and return the run."""
    from bilan_core.experiments.experiment_runs import run_experiment as run

    return run(get_client(), dataset, variants, name=name, concurrency=concurrency)


def resume_experiment(run_id: str) -> ExperimentRun:
    """Answer the cells of a stored experiment run still pending, with the default client."""
    from bilan_core.experiments.experiment_runs import resume_experiment as resume

    return resume(get_client(), run_id)


def compare_runs(first: ExperimentRun | str, second: ExperimentRun | str) -> RunComparison:
    """Two experiment runs (or their ids) side by side: flipped verdicts, cost and latency deltas."""
    from bilan_core.experiments.experiment_runs import compare_runs as compare_two
    from bilan_core.experiments.experiment_runs import get_experiment

    client = get_client()
    runs = [get_experiment(client, run) if isinstance(run, str) else run for run in (first, second)]
    return compare_two(runs[0], runs[1])


def create_review_session(
    name: str,
    *,
    prompt_ids: Sequence[str] | None = None,
    run_id: str | None = None,
    filter: AnalyticsFilter | None = None,
    feedback: Iterable[str] = (),
    sample: int | None = None,
    seed: int = 0,
    pairwise: bool = False,
    criteria: Iterable[str] = (),
    raters_per_item: int | None = None,
    blind: bool = True,
    instructions: str | None = None,
) -> ReviewSession:
    """Make a team review session of recorded answers with the default client."""
    return get_client().create_review_session(
        name,
        prompt_ids=prompt_ids,
        run_id=run_id,
        filter=filter,
        feedback=feedback,
        sample=sample,
        seed=seed,
        pairwise=pairwise,
        criteria=criteria,
        raters_per_item=raters_per_item,
        blind=blind,
        instructions=instructions,
    )


def get_review_session(session_id: str) -> ReviewSession:
    """A stored review session with the default client."""
    return get_client().get_review_session(session_id)


def list_review_sessions(*, limit: int = 50) -> list[ReviewSessionInfo]:
    """The newest review sessions with the default client."""
    return get_client().list_review_sessions(limit=limit)


def review_report(session_id: str) -> ReviewReport:
    """A review session's report (agreement, results, themes, disputed items) with the default client."""
    return get_client().get_review_session(session_id).report()
