"""Server mode's comparisons, batch runs, exports and schema status: direct requests to a Bilan server.

These are written and read at once (not through the outbox), in the key's project. A read that shows
recorded turns or votes (a comparison's view, a run's results, an export) flushes the outbox first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.remote.connection import ServerConnection, parse, parse_list, without_none
from bilan_core.store.batch_runs import BatchOptions, BatchResult, NewBatchItem
from bilan_core.store.comparisons import ComparisonView, DecidedComparison, NewComparison
from bilan_core.store.models import BatchItem, BatchRun, Comparison

DECIDED = TypeAdapter(list[DecidedComparison])
RUNS = TypeAdapter(list[BatchRun])
ITEMS = TypeAdapter(list[BatchItem])
RESULTS = TypeAdapter(list[BatchResult])


class ItemFinished(BaseModel):
    """Whether finishing an item changed it (False when it was done already)."""

    changed: bool


class SchemaStatus(BaseModel):
    """The server database's migration revision, as ``schema_status`` words it."""

    status: str


def filter_params(where: AnalyticsFilter) -> dict[str, Any]:
    """An analytics filter as the server's query fields (the server adds the key's project)."""
    return without_none(
        {
            "start_ms": where.start_ms,
            "end_ms": where.end_ms,
            "models": list(where.models),
            "users": list(where.users),
            "team_session": where.team_session,
            "prompt_versions": list(where.prompt_versions),
            "prompts": list(where.prompts),
        }
    )


def _comparison_path(comparison_id: str, *rest: str) -> str:
    return "/".join(("/api/comparisons", quote(comparison_id, safe=""), *rest))


def _run_path(run_id: str, *rest: str) -> str:
    return "/".join(("/api/batch-runs", quote(run_id, safe=""), *rest))


class ServerExperimentCalls(ServerConnection):
    """The comparison, batch run, export and schema calls of the ``Backend`` protocol, over HTTP."""

    def create_comparison(self, new: NewComparison) -> Comparison:
        """Store a comparison on the server."""
        return parse(Comparison, self._request("POST", "/api/comparisons", json=new.model_dump()))

    def attach_answer(self, *, comparison_id: str, side: str, prompt_id: str) -> Comparison:
        """Link a side's turn on the server."""
        path = _comparison_path(comparison_id, "answers", quote(side, safe=""))
        return parse(Comparison, self._request("PUT", path, json={"prompt_id": prompt_id}))

    def decide_comparison(self, *, comparison_id: str, winner: str, comment: str | None) -> Comparison:
        """Record the verdict on the server."""
        body = {"winner": winner, "comment": comment}
        return parse(Comparison, self._request("POST", _comparison_path(comparison_id, "verdict"), json=body))

    def get_comparison(self, *, comparison_id: str) -> Comparison:
        """One comparison from the server."""
        return parse(Comparison, self._get(_comparison_path(comparison_id), {}))

    def comparison_view(self, *, comparison_id: str, user_id: str) -> ComparisonView:
        """A comparison with its answers and the user's votes (after a flush, so new ones show)."""
        reply = self._read("GET", _comparison_path(comparison_id, "view"), params={"user_id": user_id})
        return parse(ComparisonView, reply)

    def decided_comparisons(
        self, *, since_ms: int | None, team_session: str | None
    ) -> list[DecidedComparison]:
        """The project's verdicts from the server."""
        params = without_none({"since_ms": since_ms, "team_session": team_session})
        return parse_list(DECIDED, self._get("/api/comparisons/decided", params))

    def comparisons_version(self) -> tuple[int, int]:
        """The verdicts' count and newest time on the server."""
        count, newest = self._get("/api/comparisons/version", {}).json()
        return int(count), int(newest)

    def create_batch_run(
        self, *, user_id: str, file_name: str, items: Sequence[NewBatchItem], options: BatchOptions
    ) -> BatchRun:
        """Store a run and its items on the server (one request, within the server's body limit)."""
        body = {
            "user_id": user_id,
            "file_name": file_name,
            "options": options.as_settings(),
            "items": [item.model_dump() for item in items],
        }
        return parse(BatchRun, self._request("POST", "/api/batch-runs", json=body))

    def get_batch_run(self, *, run_id: str) -> BatchRun:
        """One run from the server."""
        return parse(BatchRun, self._get(_run_path(run_id), {}))

    def pending_batch_items(self, *, run_id: str) -> list[BatchItem]:
        """A run's pending items from the server."""
        return parse_list(ITEMS, self._get(_run_path(run_id, "pending"), {}))

    def finish_batch_item(
        self, *, run_id: str, position: int, prompt_id: str | None, error: str | None
    ) -> bool:
        """Mark an item done on the server."""
        path = _run_path(run_id, "items", str(position), "finish")
        reply = self._request("POST", path, json={"prompt_id": prompt_id, "error": error})
        return parse(ItemFinished, reply).changed

    def set_batch_status(self, *, run_id: str, status: str) -> None:
        """Set a run's status on the server."""
        self._request("PUT", _run_path(run_id, "status"), json={"status": status})

    def unfinished_batch_runs(self, *, user_id: str | None) -> list[BatchRun]:
        """Resumable runs from the server."""
        params = without_none({"user_id": user_id})
        return parse_list(RUNS, self._get("/api/batch-runs/unfinished", params))

    def recent_batch_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest runs from the server."""
        return parse_list(RUNS, self._get("/api/batch-runs", {"limit": limit}))

    def batch_results(self, *, run_id: str, user_id: str) -> list[BatchResult]:
        """A run's rows with the user's votes (after a flush, so new answers and votes show)."""
        reply = self._read("GET", _run_path(run_id, "results"), params={"user_id": user_id})
        return parse_list(RESULTS, reply)

    def export(self, kind: str, where: AnalyticsFilter) -> bytes:
        """An export made by the server from its database (after a flush)."""
        return self._read("GET", f"/api/exports/{quote(kind, safe='')}", params=filter_params(where)).content

    def schema_status(self) -> str:
        """The server database's migration revision."""
        return parse(SchemaStatus, self._get("/api/schema", {})).status
