"""The local backend: everything in the embedded (or any SQLAlchemy) database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from sqlalchemy import Engine

from bilan_core.analytics import stats
from bilan_core.analytics.data_version import data_version
from bilan_core.analytics.filters import AnalyticsFilter, AnswersQuery, CommentsQuery, filter_options
from bilan_core.analytics.prompt_figures import VersionFigures, prompt_version_figures
from bilan_core.analytics.stats import PromptStats, Stats, VoteFilter
from bilan_core.client.local_review_calls import LocalReviewCalls
from bilan_core.pricing import Price
from bilan_core.store import (
    batch_runs,
    chat_history,
    comparisons,
    conversations,
    datasets,
    events,
    experiment_runs,
    prompts,
    turns,
    votes,
)
from bilan_core.store.batch_runs import BatchOptions, BatchResult, NewBatchItem
from bilan_core.store.chat_history import ChatEntry
from bilan_core.store.comparisons import ComparisonView, DecidedComparison, NewComparison
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import DatasetContents, NewDatasetItem
from bilan_core.store.engine import schema_status
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.forget import forget_user
from bilan_core.store.models import LOCAL_PROJECT, BatchItem, BatchRun, Comparison, Turn, TurnFields, Vote
from bilan_core.store.prompts import NewPromptVersion, PromptSummary, StoredPromptVersion
from bilan_core.store.removal import RemovalReport
from bilan_core.store.write_behind import turn_writer

if TYPE_CHECKING:
    from bilan_core.analytics.answers import AnswersPage
    from bilan_core.analytics.comments import CommentsPage
    from bilan_core.analytics.dashboard import Dashboard

# The dashboard, comments and exports (pandas) are imported by the methods that use them, so a client
# that only chats and votes never loads pandas.


class LocalBackend(LocalReviewCalls):
    """Reads and writes one database directly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.project_id = LOCAL_PROJECT
        turn_writer(engine)  # made now, so the turns a dead process journaled are stored before any read

    def record_turn(self, fields: TurnFields) -> None:
        """Keep a finished turn (and touch its conversation): journaled now, stored off this thread."""
        writer = turn_writer(self.engine)
        if writer is None:
            turns.record_turn_in_conversation(self.engine, Turn(project_id=self.project_id, **fields))
        else:
            writer.submit(self.project_id, fields)

    def cast_vote(
        self, *, prompt_id: str, user_id: str, value: int, comment: str | None, team_session: str | None
    ) -> Vote:
        """Upsert the user's vote on a known turn."""
        return votes.cast_vote(
            self.engine,
            prompt_id=prompt_id,
            user_id=user_id,
            value=value,
            comment=comment,
            team_session=team_session,
        )

    def clear_vote(self, *, prompt_id: str, user_id: str) -> bool:
        """Delete the user's vote on a turn."""
        return votes.clear_vote(self.engine, prompt_id=prompt_id, user_id=user_id)

    def track(self, *, event_type: str, user_id: str, properties: dict[str, Any]) -> str:
        """Insert a generic event."""
        return events.track_event(
            self.engine, event_type=event_type, user_id=user_id, properties=properties
        ).event_id

    def start_conversation(
        self, *, user_id: str, title: str | None, team_session: str | None, conversation_id: str | None
    ) -> str:
        """Insert a conversation."""
        return conversations.start_conversation(
            self.engine,
            user_id=user_id,
            title=title,
            team_session=team_session,
            conversation_id=conversation_id,
        ).conversation_id

    def end_conversation(self, *, conversation_id: str, status: str) -> None:
        """Mark a conversation ended."""
        conversations.end_conversation(self.engine, conversation_id=conversation_id, status=status)

    def list_conversations(self, *, user_id: str, limit: int) -> list[ConversationSummary]:
        """A user's conversations from SQL, most recently updated first."""
        found = conversations.list_conversations(self.engine, user_id=user_id, limit=limit)
        return [ConversationSummary.of(conversation) for conversation in found]

    def get_conversation(self, *, conversation_id: str) -> ConversationSummary:
        """One conversation from SQL."""
        return ConversationSummary.of(
            conversations.get_conversation(self.engine, conversation_id=conversation_id)
        )

    def load_chat(self, *, conversation_id: str, user_id: str, recent: int | None) -> list[ChatEntry]:
        """A conversation's turns (the newest ``recent``) with the user's votes, in one query."""
        return chat_history.load_chat(
            self.engine, conversation_id=conversation_id, user_id=user_id, recent=recent
        )

    def rename_conversation(self, *, conversation_id: str, title: str, user_id: str) -> ConversationSummary:
        """Update the owner's conversation title in SQL."""
        return ConversationSummary.of(
            conversations.rename_conversation(
                self.engine, conversation_id=conversation_id, title=title, user_id=user_id
            )
        )

    def delete_conversation(self, *, conversation_id: str, user_id: str) -> None:
        """Delete the owner's conversation, its turns and their votes in SQL."""
        conversations.delete_conversation(self.engine, conversation_id=conversation_id, user_id=user_id)

    def forget_user(self, *, user_id: str) -> RemovalReport:
        """Delete everything of the user from the database, in short batches."""
        return forget_user(self.engine, user_id=user_id, project_id=self.project_id)

    def stats(self, where: VoteFilter) -> Stats:
        """Trust figures from SQL."""
        return stats.compute_stats(self.engine, where)

    def prompt_stats(self, prompt_id: str) -> PromptStats:
        """One turn's votes from SQL."""
        return stats.compute_prompt_stats(self.engine, prompt_id=prompt_id)

    def dashboard(self, where: AnalyticsFilter, *, prices: Mapping[str, Price]) -> Dashboard:
        """The Analytics page's figures from SQL."""
        from bilan_core.analytics.dashboard import load_dashboard

        return load_dashboard(self.engine, where, prices=prices)

    def comments(self, where: AnalyticsFilter, **query: Unpack[CommentsQuery]) -> CommentsPage:
        """A page of comments from SQL."""
        from bilan_core.analytics.comments import comments_page

        return comments_page(self.engine, where, **query)

    def answers(self, where: AnalyticsFilter, **query: Unpack[AnswersQuery]) -> AnswersPage:
        """A page of answers from SQL."""
        from bilan_core.analytics.answers import answers_page

        return answers_page(self.engine, where, **query)

    def filter_options(self) -> dict[str, list[str]]:
        """Distinct filter values from SQL."""
        return filter_options(self.engine)

    def data_version(self) -> tuple[int, ...]:
        """The change marker of everything the analytics show, deletes included."""
        return data_version(self.engine)

    def create_comparison(self, new: NewComparison) -> Comparison:
        """Insert a comparison."""
        return comparisons.create_comparison(self.engine, project_id=self.project_id, new=new)

    def attach_answer(self, *, comparison_id: str, side: str, prompt_id: str) -> Comparison:
        """Link a side's turn in SQL."""
        return comparisons.attach_answer(
            self.engine,
            project_id=self.project_id,
            comparison_id=comparison_id,
            side=side,
            prompt_id=prompt_id,
        )

    def decide_comparison(self, *, comparison_id: str, winner: str, comment: str | None) -> Comparison:
        """Store the verdict in SQL."""
        return comparisons.decide_comparison(
            self.engine,
            project_id=self.project_id,
            comparison_id=comparison_id,
            winner=winner,
            comment=comment,
        )

    def get_comparison(self, *, comparison_id: str) -> Comparison:
        """One comparison from SQL."""
        return comparisons.get_comparison(
            self.engine, project_id=self.project_id, comparison_id=comparison_id
        )

    def comparison_view(self, *, comparison_id: str, user_id: str) -> ComparisonView:
        """A comparison with its answers and the user's votes from SQL."""
        return comparisons.comparison_view(
            self.engine, project_id=self.project_id, comparison_id=comparison_id, user_id=user_id
        )

    def decided_comparisons(
        self, *, since_ms: int | None, team_session: str | None
    ) -> list[DecidedComparison]:
        """The verdicts from SQL."""
        return comparisons.decided_comparisons(
            self.engine, project_id=self.project_id, since_ms=since_ms, team_session=team_session
        )

    def comparisons_version(self) -> tuple[int, int]:
        """The verdicts' count and newest time from SQL."""
        return comparisons.comparisons_version(self.engine, project_id=self.project_id)

    def create_batch_run(
        self, *, user_id: str, file_name: str, items: Sequence[NewBatchItem], options: BatchOptions
    ) -> BatchRun:
        """Insert a run and its items in one transaction."""
        return batch_runs.create_batch_run(
            self.engine,
            project_id=self.project_id,
            user_id=user_id,
            file_name=file_name,
            items=items,
            options=options,
        )

    def get_batch_run(self, *, run_id: str) -> BatchRun:
        """One run from SQL."""
        return batch_runs.get_batch_run(self.engine, project_id=self.project_id, run_id=run_id)

    def pending_batch_items(self, *, run_id: str) -> list[BatchItem]:
        """A run's pending items from SQL."""
        return batch_runs.pending_items(self.engine, project_id=self.project_id, run_id=run_id)

    def finish_batch_item(
        self, *, run_id: str, position: int, prompt_id: str | None, error: str | None
    ) -> bool:
        """Mark an item done in SQL."""
        return batch_runs.finish_item(
            self.engine,
            project_id=self.project_id,
            run_id=run_id,
            position=position,
            prompt_id=prompt_id,
            error=error,
        )

    def set_batch_status(self, *, run_id: str, status: str) -> None:
        """Update a run's status in SQL."""
        batch_runs.set_run_status(self.engine, project_id=self.project_id, run_id=run_id, status=status)

    def unfinished_batch_runs(self, *, user_id: str | None) -> list[BatchRun]:
        """Resumable runs from SQL."""
        return batch_runs.unfinished_runs(self.engine, project_id=self.project_id, user_id=user_id)

    def recent_batch_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest runs from SQL."""
        return batch_runs.recent_runs(self.engine, project_id=self.project_id, limit=limit)

    def batch_results(self, *, run_id: str, user_id: str) -> list[BatchResult]:
        """A run's rows with the user's votes, in one query."""
        return batch_runs.batch_results(
            self.engine, project_id=self.project_id, run_id=run_id, user_id=user_id
        )

    def create_dataset(
        self, *, user_id: str, name: str, description: str | None, items: Sequence[NewDatasetItem]
    ) -> Dataset:
        """Insert a dataset and its items in one transaction."""
        return datasets.create_dataset(
            self.engine,
            project_id=self.project_id,
            user_id=user_id,
            name=name,
            description=description,
            items=items,
        )

    def add_dataset_items(self, *, name: str, items: Sequence[NewDatasetItem]) -> Dataset:
        """Insert items into a dataset in one transaction."""
        return datasets.add_items(self.engine, project_id=self.project_id, name=name, items=items)

    def get_dataset(self, *, name: str) -> DatasetContents:
        """A dataset and its items from SQL."""
        return datasets.get_dataset(self.engine, project_id=self.project_id, name=name)

    def list_datasets(self) -> list[Dataset]:
        """The datasets from SQL."""
        return datasets.list_datasets(self.engine, project_id=self.project_id)

    def add_turns_to_dataset(self, *, name: str, prompt_ids: Sequence[str]) -> Dataset:
        """Copy turns' prompts into a dataset in SQL."""
        return datasets.add_turns(self.engine, project_id=self.project_id, name=name, prompt_ids=prompt_ids)

    def create_experiment_run(
        self, *, user_id: str, name: str, settings: ExperimentSettings, cells: Sequence[NewBatchItem]
    ) -> BatchRun:
        """Insert an experiment run and its cells in one transaction."""
        return experiment_runs.create_experiment_run(
            self.engine,
            project_id=self.project_id,
            user_id=user_id,
            name=name,
            settings=settings,
            cells=cells,
        )

    def recent_experiment_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest experiment runs from SQL."""
        return batch_runs.recent_runs(
            self.engine, project_id=self.project_id, limit=limit, kind=batch_runs.EXPERIMENT
        )

    def export(self, kind: str, where: AnalyticsFilter) -> bytes:
        """An export straight from SQL."""
        from bilan_core.analytics.exports import export_bytes

        return export_bytes(self.engine, kind, where)

    def add_prompt_version(self, new: NewPromptVersion) -> StoredPromptVersion:
        """Store a prompt version and its labels in one transaction."""
        return prompts.add_prompt_version(self.engine, project_id=self.project_id, new=new)

    def find_prompt_version(
        self, *, name: str, version: int | None, label: str | None
    ) -> StoredPromptVersion:
        """One version from SQL."""
        return prompts.find_prompt_version(
            self.engine, project_id=self.project_id, name=name, version=version, label=label
        )

    def set_prompt_label(self, *, name: str, version: int, label: str) -> StoredPromptVersion:
        """Move a label in SQL."""
        return prompts.set_prompt_label(
            self.engine, project_id=self.project_id, name=name, version=version, label=label
        )

    def list_prompts(self) -> list[PromptSummary]:
        """The prompts from SQL."""
        return prompts.list_prompt_summaries(self.engine, project_id=self.project_id)

    def prompt_versions(self, *, name: str) -> list[StoredPromptVersion]:
        """A prompt's versions from SQL."""
        return prompts.prompt_versions(self.engine, project_id=self.project_id, name=name)

    def prompt_figures(self, *, name: str) -> list[VersionFigures]:
        """Each version's figures from SQL."""
        return prompt_version_figures(self.engine, project_id=self.project_id, name=name)

    def schema_status(self) -> str:
        """This database's migration revision."""
        return schema_status(self.engine)

    def capture_limit(self) -> str:
        """``full``: the local database keeps what the client's own level lets through."""
        return "full"

    def flush(self, timeout: float) -> bool:
        """Store the turns this process has queued for the database (any read does it too)."""
        writer = turn_writer(self.engine)
        if writer is not None:
            writer.flush()
        return True

    def pending(self) -> int:
        """Turns this process has journaled and not yet stored in the database."""
        writer = turn_writer(self.engine)
        return 0 if writer is None else writer.outstanding

    def failed(self) -> int:
        """Always 0: a refused write raises instead."""
        return 0

    def close(self) -> None:
        """Store the queued turns; the shared engine and its writer stay open for other clients."""
        self.flush(timeout=0)
