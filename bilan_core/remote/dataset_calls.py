"""Server mode's datasets and experiment runs: direct requests to a Bilan server, in the key's project.

Adding recorded turns to a dataset flushes the outbox first, so turns just asked are on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from bilan_core.remote.connection import ServerConnection, parse, parse_list
from bilan_core.store.batch_runs import NewBatchItem
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import DatasetContents, NewDatasetItem
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchRun

DATASETS = TypeAdapter(list[Dataset])
RUNS = TypeAdapter(list[BatchRun])


class ServerDatasetCalls(ServerConnection):
    """The dataset and experiment-run calls of the ``Backend`` protocol, over HTTP."""

    def create_dataset(
        self, *, user_id: str, name: str, description: str | None, items: Sequence[NewDatasetItem]
    ) -> Dataset:
        """Store a dataset and its items on the server (one request, within the body limit)."""
        body = {
            "user_id": user_id,
            "name": name,
            "description": description,
            "items": [item.model_dump() for item in items],
        }
        return parse(Dataset, self._request("POST", "/api/datasets", json=body))

    def add_dataset_items(self, *, name: str, items: Sequence[NewDatasetItem]) -> Dataset:
        """Append items to a dataset on the server."""
        body = {"name": name, "items": [item.model_dump() for item in items]}
        return parse(Dataset, self._request("POST", "/api/datasets/items", json=body))

    def get_dataset(self, *, name: str) -> DatasetContents:
        """A dataset and its items from the server."""
        return parse(DatasetContents, self._get("/api/datasets/by-name", {"name": name}))

    def list_datasets(self) -> list[Dataset]:
        """The project's datasets from the server."""
        return parse_list(DATASETS, self._get("/api/datasets", {}))

    def add_turns_to_dataset(self, *, name: str, prompt_ids: Sequence[str]) -> Dataset:
        """Append turns' prompts to a dataset on the server (after a flush, so new turns are there)."""
        body = {"name": name, "prompt_ids": list(prompt_ids)}
        return parse(Dataset, self._read("POST", "/api/datasets/turns", json=body))

    def create_experiment_run(
        self, *, user_id: str, name: str, settings: ExperimentSettings, cells: Sequence[NewBatchItem]
    ) -> BatchRun:
        """Store an experiment run and its cells on the server."""
        body = {
            "user_id": user_id,
            "name": name,
            "settings": settings.model_dump(),
            "cells": [cell.model_dump() for cell in cells],
        }
        return parse(BatchRun, self._request("POST", "/api/experiment-runs", json=body))

    def recent_experiment_runs(self, *, limit: int) -> list[BatchRun]:
        """The newest experiment runs from the server."""
        return parse_list(RUNS, self._get("/api/experiment-runs", {"limit": limit}))
