"""Where a client's turns, votes and events go: the local database or a Bilan server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from bilan_core.analytics.filters import AnalyticsFilter, AnswersQuery, CommentsQuery
from bilan_core.analytics.prompt_figures import VersionFigures
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.pricing import Price
from bilan_core.store.batch_runs import BatchOptions, BatchResult, NewBatchItem
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.comparisons import ComparisonView, DecidedComparison, NewComparison
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import DatasetContents, NewDatasetItem
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchItem, BatchRun, Comparison, TurnFields, Vote
from bilan_core.store.prompts import NewPromptVersion, PromptSummary, StoredPromptVersion
from bilan_core.store.removal import RemovalReport
from bilan_core.store.review_models import (
    NewReviewSession,
    RaterProgress,
    ReviewItemRow,
    ReviewItemView,
    ReviewRating,
    ReviewRatingRow,
    ReviewSessionInfo,
)

if TYPE_CHECKING:
    from bilan_core.analytics.answers import AnswersPage
    from bilan_core.analytics.comments import CommentsPage
    from bilan_core.analytics.dashboard import Dashboard
    from bilan_core.reviews.sources import ReviewSource


class Backend(Protocol):
    """What ``Bilan`` needs from a store; ``LocalBackend`` and the server client implement it."""

    def record_turn(self, fields: TurnFields) -> None:
        """Keep a finished turn, given as plain values."""

    def cast_vote(
        self, *, prompt_id: str, user_id: str, value: int, comment: str | None, team_session: str | None
    ) -> Vote:
        """Keep a user's vote on a turn, replacing their earlier one."""

    def clear_vote(self, *, prompt_id: str, user_id: str) -> bool:
        """Remove a user's vote on a turn."""

    def track(self, *, event_type: str, user_id: str, properties: dict[str, Any]) -> str:
        """Keep a generic event and return its id."""

    def start_conversation(
        self, *, user_id: str, title: str | None, team_session: str | None, conversation_id: str | None
    ) -> str:
        """Open a conversation and return its id."""

    def end_conversation(self, *, conversation_id: str, status: str) -> None:
        """Close a conversation."""

    def list_conversations(self, *, user_id: str, limit: int) -> list[ConversationSummary]:
        """A user's conversations, most recently updated first."""

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation; NotFoundError if there is none."""

    def load_chat(self, *, conversation_id: str, user_id: str, recent: int | None) -> list[ChatEntry]:
        """A conversation's turns (the newest ``recent``), oldest first, with ``user_id``'s votes."""

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Give the user's conversation a new title; NotFoundError, or NotOwnerError for another's."""

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the user's conversation with its turns and votes; NotFoundError, or NotOwnerError."""

    def forget_user(self, *, user_id: str) -> RemovalReport:
        """Delete the user's turns, votes, comments, conversations and events (queued ones too); what went."""

    def stats(self, where: VoteFilter) -> Stats:
        """Trust figures for the votes ``where`` selects."""

    def prompt_stats(self, prompt_id: str) -> PromptStats:
        """Votes and comments on one turn."""

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price]) -> Dashboard:
        """Every figure of the Analytics page for one filter."""

    def comments(self, where: AnalyticsFilter, **query: Unpack[CommentsQuery]) -> CommentsPage:
        """One page of comments matching the filter, a search text and a sign."""

    def answers(self, where: AnalyticsFilter, **query: Unpack[AnswersQuery]) -> AnswersPage:
        """One page of the answers a filter (and a voter, sign, status) selects, newest first."""

    def filter_options(self) -> dict[str, list[str]]:
        """The models, users, team sessions and prompt versions that occur."""

    def data_version(self) -> tuple[int, ...]:
        """A value that changes whenever turns or votes change, for caching the analytics."""

    def create_comparison(self, new: NewComparison) -> Comparison:
        """Store a new, undecided comparison."""

    def attach_answer(self, *, comparison_id: str, side: str, prompt_id: str) -> Comparison:
        """Link the turn that answered one side of a comparison."""

    def decide_comparison(self, *, comparison_id: str, winner: str, comment: str | None) -> Comparison:
        """Record the verdict on a comparison whose two answers exist (once)."""

    def get_comparison(self, *, comparison_id: str) -> Comparison:
        """One comparison; NotFoundError if there is none."""

    def comparison_view(self, *, comparison_id: str, user_id: str) -> ComparisonView:
        """A comparison with its answers and ``user_id``'s votes, the variants hidden while blind."""

    def decided_comparisons(
        self, *, since_ms: int | None, team_session: str | None
    ) -> list[DecidedComparison]:
        """The verdicts the leaderboard is computed from, oldest first."""

    def comparisons_version(self) -> tuple[int, int]:
        """The number of verdicts and the newest one's time (a cache key for the leaderboard)."""

    def create_batch_run(
        self, *, user_id: str, file_name: str, items: Sequence[NewBatchItem], options: BatchOptions
    ) -> BatchRun:
        """Store a run and all of its pending items at once."""

    def get_batch_run(self, *, run_id: str) -> BatchRun:
        """One run; NotFoundError if there is none."""

    def pending_batch_items(self, *, run_id: str) -> list[BatchItem]:
        """The items of a run not finished yet, in file order."""

    def finish_batch_item(
        self, *, run_id: str, position: int, prompt_id: str | None, error: str | None
    ) -> bool:
        """Mark a pending item done (with its turn or error); False if it was done already."""

    def set_batch_status(self, *, run_id: str, status: str) -> None:
        """Set a run's status."""

    def unfinished_batch_runs(self, *, user_id: str | None) -> list[BatchRun]:
        """Runs with items still pending, newest first."""

    def recent_batch_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest runs."""

    def batch_results(self, *, run_id: str, user_id: str) -> list[BatchResult]:
        """One row per item of a run, with ``user_id``'s vote on its answer."""

    def create_dataset(
        self, *, user_id: str, name: str, description: str | None, items: Sequence[NewDatasetItem]
    ) -> Dataset:
        """Store a new dataset with its items at once."""

    def add_dataset_items(self, *, name: str, items: Sequence[NewDatasetItem]) -> Dataset:
        """Append items to a dataset, all or none."""

    def get_dataset(self, *, name: str) -> DatasetContents:
        """A dataset with its items; NotFoundError if there is none with that name."""

    def list_datasets(self) -> list[Dataset]:
        """The datasets, by name."""

    def add_turns_to_dataset(self, *, name: str, prompt_ids: Sequence[str]) -> Dataset:
        """Append recorded turns' prompts to a dataset."""

    def create_experiment_run(
        self, *, user_id: str, name: str, settings: ExperimentSettings, cells: Sequence[NewBatchItem]
    ) -> BatchRun:
        """Store an experiment run and all of its cells at once."""

    def recent_experiment_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest experiment runs."""

    def create_review_session(self, *, new: NewReviewSession, source: ReviewSource) -> ReviewSessionInfo:
        """Store a review session with the items its source gives, at once."""

    def get_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """One review session; ReviewSessionNotFoundError if there is none."""

    def list_review_sessions(self, *, limit: int) -> list[ReviewSessionInfo]:
        """The newest review sessions."""

    def join_review_session(self, *, session_id: str, rater: str) -> None:
        """Add a rater to an open session."""

    def next_review_item(self, *, session_id: str, rater: str) -> ReviewItemView | None:
        """Hand the rater their next item (one transaction); None when nothing is left."""

    def review_item(self, *, session_id: str, item_id: int, rater: str) -> ReviewItemView:
        """An item already handed to the rater."""

    def rate_review_item(
        self,
        *,
        session_id: str,
        item_id: int,
        rater: str,
        vote: object,
        winner: object,
        scores: object,
        comment: object,
    ) -> ReviewRating:
        """Store (or replace) the rater's rating of an item, with its vote or verdict."""

    def skip_review_item(self, *, session_id: str, item_id: int, rater: str) -> None:
        """Pass on an item handed to the rater."""

    def review_progress(self, *, session_id: str) -> list[RaterProgress]:
        """Each rater's progress."""

    def review_ratings(self, *, session_id: str) -> list[ReviewRatingRow]:
        """Every complete rating with its item's source."""

    def review_items(self, *, session_id: str) -> list[ReviewItemRow]:
        """Every item with its texts, source and counts."""

    def close_review_session(self, *, session_id: str) -> ReviewSessionInfo:
        """Close a session (idempotent)."""

    def export(self, kind: str, where: AnalyticsFilter) -> bytes:
        """A CSV, fine-tuning or DPO export of what the filter selects, as bytes."""

    def add_prompt_version(self, new: NewPromptVersion) -> StoredPromptVersion:
        """Store a prompt's next version with its labels, in one step."""

    def find_prompt_version(
        self, *, name: str, version: int | None, label: str | None
    ) -> StoredPromptVersion:
        """One version by number, else by label; PromptNotFoundError naming what exists."""

    def set_prompt_label(self, *, name: str, version: int, label: str) -> StoredPromptVersion:
        """Point a label at an existing version."""

    def list_prompts(self) -> list[PromptSummary]:
        """Every prompt with its newest version and labels."""

    def prompt_versions(self, *, name: str) -> list[StoredPromptVersion]:
        """Every version of a prompt, newest first."""

    def prompt_figures(self, *, name: str) -> list[VersionFigures]:
        """Each version's trust score, votes, tokens and median latency, newest first."""

    def schema_status(self) -> str:
        """The database's migration revision, and whether it is the newest the store knows."""

    def capture_limit(self) -> str:
        """The most the store keeps of people's words (a server project's maximum capture level)."""

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing waits to be stored; True when nothing does."""

    def pending(self) -> int:
        """Events written but not stored yet (server mode's outbox)."""

    def failed(self) -> int:
        """Events the store refused for good (server mode: 4xx answers other than 429)."""

    def close(self) -> None:
        """Release what the backend holds (a server client drains its outbox first)."""
