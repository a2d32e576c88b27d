"""Bilan for Python: capture 👍/👎 and comments on AI answers, tied to the exact call, as trust analytics."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bilan_core.api import (
    acreate_chat_completion,
    acreate_streaming_chat,
    add_dataset_items,
    add_turns_to_dataset,
    arun_with_tools,
    astream_with_tools,
    clear_vote,
    close,
    compare,
    compare_runs,
    create_chat_completion,
    create_dataset,
    create_prompt,
    create_review_session,
    create_streaming_chat,
    end_conversation,
    flush,
    forget_user,
    get_client,
    get_dataset,
    get_prompt,
    get_prompt_stats,
    get_review_session,
    get_stats,
    import_dataset,
    init,
    leaderboard,
    list_models,
    list_prompts,
    list_review_sessions,
    prompt_versions,
    record_preference,
    resume_batch,
    resume_experiment,
    review_report,
    route_model,
    run_batch_file,
    run_experiment,
    run_with_tools,
    set_prompt_label,
    start_conversation,
    stream_with_tools,
    track,
    vote,
)
from bilan_core.chat.options import ChatOptions, ToolLoopOptions, ToolRunOptions
from bilan_core.errors import (
    AuthError,
    BilanError,
    ConfigurationError,
    ContextLimitError,
    EmptyReviewSourceError,
    InvalidRatingError,
    MalformedResponseError,
    ModelNotFoundError,
    NetworkError,
    NotFoundError,
    NotOwnerError,
    PromptNotFoundError,
    PromptTemplateError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReviewItemNotAssignedError,
    ReviewItemNotFoundError,
    ReviewSessionClosedError,
    ReviewSessionNotFoundError,
    ServiceUnavailableError,
    UnknownPromptError,
)
from bilan_core.settings import BilanSettings, load_settings
from bilan_core.version import __version__

if TYPE_CHECKING:
    from bilan_core.analytics.agreement import Agreement, AlphaEstimate, rating_agreement
    from bilan_core.analytics.bradley_terry import Leaderboard
    from bilan_core.analytics.comment_themes import CommentThemes, Quote, Theme, comment_themes
    from bilan_core.analytics.filters import AnalyticsFilter
    from bilan_core.analytics.stats import Feedback, PromptStats, Stats, StatsFilters
    from bilan_core.chat.responses import TrackedChatResponse, Usage
    from bilan_core.chat.routing import RouteDecision, RoutingPolicy
    from bilan_core.chat.streaming import AsyncStreamingChatResponse, StreamingChatResponse
    from bilan_core.chat.tool_loop import ToolLoopResponse, ToolStepLimitError
    from bilan_core.chat.tool_streaming import AsyncToolStreamingResponse, ToolStreamingResponse
    from bilan_core.chat.tools import Tool, ToolRegistry, builtin_tools
    from bilan_core.client.bilan import Bilan
    from bilan_core.client.review_calls import ReviewSession
    from bilan_core.experiments.cells import ExperimentVariant
    from bilan_core.experiments.comparisons import ComparisonResult, Variant
    from bilan_core.experiments.experiment_report import RunComparison
    from bilan_core.experiments.experiment_runs import ExperimentRun
    from bilan_core.prompts.version import PromptMessage, PromptVersion
    from bilan_core.reviews.board import OverallProgress, ReviewBoard
    from bilan_core.reviews.report import ReviewReport
    from bilan_core.store.batch_runs import BatchOptions
    from bilan_core.store.dataset_models import Dataset
    from bilan_core.store.datasets import DatasetContents
    from bilan_core.store.models import BatchRun, Comparison, Vote
    from bilan_core.store.prompts import PromptSummary
    from bilan_core.store.removal import RemovalReport
    from bilan_core.store.review_models import (
        RaterProgress,
        ReviewItemView,
        ReviewRating,
        ReviewSessionInfo,
    )

# Names whose modules pull in openai, SQLAlchemy, pandas or numpy load on first access (PEP 562), so
# ``import bilan_core`` stays light; ``from bilan_core import Bilan`` works as usual.
_LAZY_NAMES = {
    "Agreement": "bilan_core.analytics.agreement",
    "AlphaEstimate": "bilan_core.analytics.agreement",
    "rating_agreement": "bilan_core.analytics.agreement",
    "CommentThemes": "bilan_core.analytics.comment_themes",
    "Quote": "bilan_core.analytics.comment_themes",
    "Theme": "bilan_core.analytics.comment_themes",
    "comment_themes": "bilan_core.analytics.comment_themes",
    "AnalyticsFilter": "bilan_core.analytics.filters",
    "Feedback": "bilan_core.analytics.stats",
    "PromptStats": "bilan_core.analytics.stats",
    "Stats": "bilan_core.analytics.stats",
    "StatsFilters": "bilan_core.analytics.stats",
    "TrackedChatResponse": "bilan_core.chat.responses",
    "Usage": "bilan_core.chat.responses",
    "RouteDecision": "bilan_core.chat.routing",
    "RoutingPolicy": "bilan_core.chat.routing",
    "AsyncStreamingChatResponse": "bilan_core.chat.streaming",
    "StreamingChatResponse": "bilan_core.chat.streaming",
    "ToolLoopResponse": "bilan_core.chat.tool_loop",
    "ToolStepLimitError": "bilan_core.chat.tool_loop",
    "AsyncToolStreamingResponse": "bilan_core.chat.tool_streaming",
    "ToolStreamingResponse": "bilan_core.chat.tool_streaming",
    "Tool": "bilan_core.chat.tools",
    "ToolRegistry": "bilan_core.chat.tools",
    "builtin_tools": "bilan_core.chat.tools",
    "Bilan": "bilan_core.client.bilan",
    "Leaderboard": "bilan_core.analytics.bradley_terry",
    "ComparisonResult": "bilan_core.experiments.comparisons",
    "Variant": "bilan_core.experiments.comparisons",
    "PromptMessage": "bilan_core.prompts.version",
    "PromptVersion": "bilan_core.prompts.version",
    "ReviewReport": "bilan_core.reviews.report",
    "ReviewBoard": "bilan_core.reviews.board",
    "OverallProgress": "bilan_core.reviews.board",
    "ExperimentVariant": "bilan_core.experiments.cells",
    "ExperimentRun": "bilan_core.experiments.experiment_runs",
    "RunComparison": "bilan_core.experiments.experiment_report",
    "Dataset": "bilan_core.store.dataset_models",
    "DatasetContents": "bilan_core.store.datasets",
    "BatchOptions": "bilan_core.store.batch_runs",
    "BatchRun": "bilan_core.store.models",
    "PromptSummary": "bilan_core.store.prompts",
    "Comparison": "bilan_core.store.models",
    "Vote": "bilan_core.store.models",
    "RemovalReport": "bilan_core.store.removal",
    "ReviewSession": "bilan_core.client.review_calls",
    "ReviewSessionInfo": "bilan_core.store.review_models",
    "ReviewItemView": "bilan_core.store.review_models",
    "ReviewRating": "bilan_core.store.review_models",
    "RaterProgress": "bilan_core.store.review_models",
}


def __getattr__(name: str) -> object:
    """Load a public name from its module on first access."""
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'bilan_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(_LAZY_NAMES))


__all__ = [
    "Agreement",
    "AlphaEstimate",
    "AnalyticsFilter",
    "AsyncStreamingChatResponse",
    "AsyncToolStreamingResponse",
    "AuthError",
    "BatchOptions",
    "BatchRun",
    "Bilan",
    "BilanError",
    "BilanSettings",
    "ChatOptions",
    "CommentThemes",
    "Comparison",
    "ComparisonResult",
    "ConfigurationError",
    "ContextLimitError",
    "Dataset",
    "DatasetContents",
    "EmptyReviewSourceError",
    "ExperimentRun",
    "ExperimentVariant",
    "Feedback",
    "InvalidRatingError",
    "Leaderboard",
    "MalformedResponseError",
    "ModelNotFoundError",
    "NetworkError",
    "NotFoundError",
    "NotOwnerError",
    "OverallProgress",
    "PromptMessage",
    "PromptNotFoundError",
    "PromptStats",
    "PromptSummary",
    "PromptTemplateError",
    "PromptVersion",
    "ProviderError",
    "ProviderTimeoutError",
    "Quote",
    "RateLimitError",
    "RaterProgress",
    "RemovalReport",
    "ReviewBoard",
    "ReviewItemNotAssignedError",
    "ReviewItemNotFoundError",
    "ReviewItemView",
    "ReviewRating",
    "ReviewReport",
    "ReviewSession",
    "ReviewSessionClosedError",
    "ReviewSessionInfo",
    "ReviewSessionNotFoundError",
    "RouteDecision",
    "RoutingPolicy",
    "RunComparison",
    "ServiceUnavailableError",
    "Stats",
    "StatsFilters",
    "StreamingChatResponse",
    "Theme",
    "Tool",
    "ToolLoopOptions",
    "ToolLoopResponse",
    "ToolRegistry",
    "ToolRunOptions",
    "ToolStepLimitError",
    "ToolStreamingResponse",
    "TrackedChatResponse",
    "UnknownPromptError",
    "Usage",
    "Variant",
    "Vote",
    "__version__",
    "acreate_chat_completion",
    "acreate_streaming_chat",
    "add_dataset_items",
    "add_turns_to_dataset",
    "arun_with_tools",
    "astream_with_tools",
    "builtin_tools",
    "clear_vote",
    "close",
    "comment_themes",
    "compare",
    "compare_runs",
    "create_chat_completion",
    "create_dataset",
    "create_prompt",
    "create_review_session",
    "create_streaming_chat",
    "end_conversation",
    "flush",
    "forget_user",
    "get_client",
    "get_dataset",
    "get_prompt",
    "get_prompt_stats",
    "get_review_session",
    "get_stats",
    "import_dataset",
    "init",
    "leaderboard",
    "list_models",
    "list_prompts",
    "list_review_sessions",
    "load_settings",
    "prompt_versions",
    "rating_agreement",
    "record_preference",
    "resume_batch",
    "resume_experiment",
    "review_report",
    "route_model",
    "run_batch_file",
    "run_experiment",
    "run_with_tools",
    "set_prompt_label",
    "start_conversation",
    "stream_with_tools",
    "track",
    "vote",
]
