"""The client's calls for comparisons, batch runs, exports and the schema status, in either mode.

``Bilan`` inherits them: each checks its input and goes through the client's backend (the local
database or a Bilan server, in the key's project), so the pages and ``experiments`` never need an engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.client.backend import Backend
from bilan_core.clock import to_ms
from bilan_core.limits import check_label
from bilan_core.privacy.capture import CapturePolicy
from bilan_core.store.batch_runs import BatchOptions, BatchResult, NewBatchItem
from bilan_core.store.comparisons import ComparisonView, DecidedComparison, NewComparison
from bilan_core.store.models import BatchItem, BatchRun, Comparison

MAX_RUNS_LISTED = 1000


class ExperimentCalls:
    """Comparisons, batch runs, exports and schema status through ``self.backend``, as ``self.user_id``."""

    backend: Backend
    user_id: str
    team_session: str | None
    capture: CapturePolicy

    def _stored_user(self) -> str:
        """This client's user id as stored at the capture level (a keyed hash at ``none``)."""
        return self.capture.user(self.user_id)

    def _voter(self, user_id: object) -> str:
        """The stored id of a vote's (or a view's) user: ``user_id`` when given, else this client's."""
        return self.capture.user(self.user_id if user_id is None else check_label("user_id", user_id))

    def create_comparison(
        self,
        *,
        prompt: str,
        variant_a: Mapping[str, Any],
        variant_b: Mapping[str, Any],
        blind: bool,
        a_shown_first: bool,
    ) -> Comparison:
        """Store an undecided comparison of two variants (as ``Variant.as_dict()`` gives them)."""
        new = NewComparison(
            user_id=self._stored_user(),
            team_session=self.team_session,
            prompt=prompt,
            variant_a=dict(variant_a),
            variant_b=dict(variant_b),
            blind=_flag("blind", blind),
            a_shown_first=_flag("a_shown_first", a_shown_first),
        )
        return self.backend.create_comparison(new)

    def attach_comparison_answer(self, comparison_id: str, *, side: str, prompt_id: str) -> Comparison:
        """Link the turn ``prompt_id`` as the answer of one side (``a`` or ``b``) of a comparison."""
        return self.backend.attach_answer(
            comparison_id=check_label("comparison_id", comparison_id),
            side=side,
            prompt_id=check_label("prompt_id", prompt_id),
        )

    def decide_comparison(self, comparison_id: str, *, winner: str, comment: str | None = None) -> Comparison:
        """Record the verdict (``a``, ``b``, ``tie``, ``both_bad``) on a comparison, once."""
        return self.backend.decide_comparison(
            comparison_id=check_label("comparison_id", comparison_id),
            winner=winner,
            comment=self.capture.text(comment),
        )

    def get_comparison(self, comparison_id: str) -> Comparison:
        """One comparison; NotFoundError if there is none with this id."""
        return self.backend.get_comparison(comparison_id=check_label("comparison_id", comparison_id))

    def comparison_view(self, comparison_id: str, *, user_id: str | None = None) -> ComparisonView:
        """A comparison's answers with the user's votes; the variants stay hidden until a blind verdict."""
        return self.backend.comparison_view(
            comparison_id=check_label("comparison_id", comparison_id), user_id=self._voter(user_id)
        )

    def decided_comparisons(
        self, *, since: datetime | int | None = None, team_session: str | None = None
    ) -> list[DecidedComparison]:
        """The verdicts the leaderboard counts, oldest first (from ``since``, in one team session)."""
        return self.backend.decided_comparisons(
            since_ms=None if since is None else to_ms(since),
            team_session=None if team_session is None else check_label("team_session", team_session),
        )

    def comparisons_version(self) -> tuple[int, int]:
        """The number of verdicts and the newest one's time: changes whenever a verdict is added."""
        return self.backend.comparisons_version()

    def create_batch_run(
        self, *, file_name: str, items: Sequence[NewBatchItem], options: BatchOptions
    ) -> BatchRun:
        """Store a run of this user and all of its pending items at once (nothing when one is refused)."""
        if not isinstance(options, BatchOptions):
            raise ValueError(f"options must be BatchOptions, got {type(options).__name__}")
        return self.backend.create_batch_run(
            user_id=self._stored_user(), file_name=file_name, items=list(items), options=options
        )

    def get_batch_run(self, run_id: str) -> BatchRun:
        """One batch run; NotFoundError if there is none with this id."""
        return self.backend.get_batch_run(run_id=check_label("run_id", run_id))

    def pending_batch_items(self, run_id: str) -> list[BatchItem]:
        """The items of a run not finished yet, in file order."""
        return self.backend.pending_batch_items(run_id=check_label("run_id", run_id))

    def finish_batch_item(
        self, run_id: str, *, position: int, prompt_id: str | None, error: str | None = None
    ) -> bool:
        """Mark a pending item done with its turn (or its error); False if it was done already."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(f"position must be a whole number from 0, got {position!r}")
        return self.backend.finish_batch_item(
            run_id=check_label("run_id", run_id),
            position=position,
            prompt_id=None if prompt_id is None else check_label("prompt_id", prompt_id),
            error=error,
        )

    def set_batch_status(self, run_id: str, status: str) -> None:
        """Set a run's status (``pending``, ``running``, ``completed`` or ``interrupted``)."""
        self.backend.set_batch_status(run_id=check_label("run_id", run_id), status=status)

    def unfinished_batch_runs(self, *, user_id: str | None = None) -> list[BatchRun]:
        """Runs with items still pending, newest first (everyone's, or one user's)."""
        who = None if user_id is None else check_label("user_id", user_id)
        return self.backend.unfinished_batch_runs(user_id=who)

    def recent_batch_runs(self, *, limit: int = 20) -> list[BatchRun]:
        """The newest runs (at most ``limit``, 1 to 1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RUNS_LISTED:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_RUNS_LISTED}, got {limit!r}")
        return self.backend.recent_batch_runs(limit=limit)

    def batch_results(self, run_id: str, *, user_id: str | None = None) -> list[BatchResult]:
        """One row per item of a run: prompt, answer or error, figures, metadata and the user's vote."""
        return self.backend.batch_results(run_id=check_label("run_id", run_id), user_id=self._voter(user_id))

    def export(self, kind: str, where: AnalyticsFilter) -> bytes:
        """``csv``, ``finetune`` or ``dpo`` export of what the analytics filter selects, as UTF-8 bytes."""
        if not isinstance(where, AnalyticsFilter):
            raise ValueError(f"where must be an AnalyticsFilter, got {type(where).__name__}")
        return self.backend.export(kind, where)

    def schema_status(self) -> str:
        """The store's migration revision (the server's in server mode) and whether it is the newest."""
        return self.backend.schema_status()


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
