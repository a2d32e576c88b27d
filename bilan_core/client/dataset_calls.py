"""The client's calls for datasets and experiment runs, in either mode.

``Bilan`` inherits them: each checks its input and goes through the client's backend (the local
database or a Bilan server, in the key's project). Running an experiment is ``bilan_core.experiments``'
work; these only store and read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from bilan_core.client.backend import Backend
from bilan_core.client.experiment_calls import MAX_RUNS_LISTED
from bilan_core.limits import check_label
from bilan_core.store.batch_runs import NewBatchItem
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import DatasetContents, NewDatasetItem, dataset_name
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchRun

ItemLike = NewDatasetItem | Mapping[str, Any] | str


def dataset_items(items: Iterable[ItemLike]) -> list[NewDatasetItem]:
    """Items as ``NewDatasetItem``: a text is an input; a dict has ``input``, ``expected``, ``metadata``."""
    if isinstance(items, str | bytes | Mapping):
        raise ValueError("items must be a list of items, not one text or dict")
    checked = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, NewDatasetItem):
            checked.append(item)
            continue
        try:
            checked.append(
                NewDatasetItem(input=item) if isinstance(item, str) else NewDatasetItem.model_validate(item)
            )
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'item'}: {error['msg'].removeprefix('Value error, ')}"
                for error in exc.errors()[:3]
            )
            raise ValueError(f"item {number}: {problem}") from None
    return checked


class DatasetCalls:
    """Datasets and experiment runs through ``self.backend``, as ``self.user_id``."""

    backend: Backend
    user_id: str

    def create_dataset(
        self, name: str, items: Iterable[ItemLike] = (), *, description: str | None = None
    ) -> Dataset:
        """Store a new dataset with its items (nothing when one is refused or the name is taken)."""
        return self.backend.create_dataset(
            user_id=self.user_id, name=dataset_name(name), description=description, items=dataset_items(items)
        )

    def add_dataset_items(self, name: str, items: Iterable[ItemLike]) -> Dataset:
        """Append items to a dataset, all or none."""
        return self.backend.add_dataset_items(name=dataset_name(name), items=dataset_items(items))

    def get_dataset(self, name: str) -> DatasetContents:
        """A dataset and its items, in order; NotFoundError naming the datasets there are."""
        return self.backend.get_dataset(name=dataset_name(name))

    def list_datasets(self) -> list[Dataset]:
        """The datasets, by name."""
        return self.backend.list_datasets()

    def add_turns_to_dataset(self, name: str, prompt_ids: Sequence[str]) -> Dataset:
        """Append the prompts of recorded turns to a dataset (the answers they got kept as metadata)."""
        if isinstance(prompt_ids, str):
            raise ValueError("prompt_ids must be a list of prompt ids, not one text")
        ids = [check_label("prompt_id", prompt_id) for prompt_id in prompt_ids]
        return self.backend.add_turns_to_dataset(name=dataset_name(name), prompt_ids=ids)

    def create_experiment_run(
        self, *, name: str, settings: ExperimentSettings, cells: Sequence[NewBatchItem]
    ) -> BatchRun:
        """Store an experiment run of this user and all of its cells at once."""
        if not isinstance(settings, ExperimentSettings):
            raise ValueError(f"settings must be ExperimentSettings, got {type(settings).__name__}")
        return self.backend.create_experiment_run(
            user_id=self.user_id, name=check_label("name", name), settings=settings, cells=list(cells)
        )

    def recent_experiment_runs(self, *, limit: int = 20) -> list[BatchRun]:
        """The newest experiment runs (at most ``limit``, 1 to 1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RUNS_LISTED:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_RUNS_LISTED}, got {limit!r}")
        return self.backend.recent_experiment_runs(limit=limit)
