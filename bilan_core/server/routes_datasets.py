"""Datasets and experiment runs over HTTP, scoped to the caller's project.

A dataset is named in the body or the ``name`` query field (names may hold any character). An experiment
run is stored with all of its cells in one request; its cells are then finished, and its results read,
through the batch-run routes. Every refusal is ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.server.deps import REFUSALS, CallerDep, CleanText, engine_of, parsed_body, stored
from bilan_core.server.routes_experiments import BAD_INPUT, KNOWN, Name
from bilan_core.store import batch_runs, datasets, experiment_runs
from bilan_core.store.batch_runs import NewBatchItem
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import DatasetContents, NewDatasetItem
from bilan_core.store.experiment_runs import ExperimentSettings
from bilan_core.store.models import BatchRun

router = APIRouter(prefix="/api", tags=["datasets"])
NameQuery = Annotated[
    str, Query(min_length=1, max_length=MAX_LABEL_LENGTH, description="the dataset"), CleanText
]


class NewDataset(BaseModel):
    """A dataset to store with its items."""

    model_config = ConfigDict(extra="forbid")

    user_id: Name
    name: Name
    description: Annotated[str | None, Field(max_length=2_000), CleanText] = None
    items: list[NewDatasetItem] = []


class MoreItems(BaseModel):
    """Items to append to a dataset."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    items: list[NewDatasetItem]


class TurnsToAdd(BaseModel):
    """Recorded turns whose prompts become items of a dataset."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    prompt_ids: list[Name]


class NewExperimentRun(BaseModel):
    """An experiment run to store with all of its cells."""

    model_config = ConfigDict(extra="forbid")

    user_id: Name
    name: Name
    settings: ExperimentSettings
    cells: list[NewBatchItem]


@router.get("/datasets", summary="The project's datasets", responses=REFUSALS)
def get_datasets(request: Request, caller: CallerDep) -> list[Dataset]:
    """Every dataset of the caller's project, by name."""
    return datasets.list_datasets(engine_of(request), project_id=caller.project_id)


@router.post("/datasets", summary="Store a dataset with its items", responses=BAD_INPUT)
async def post_dataset(request: Request, caller: CallerDep) -> Dataset:
    """A new dataset (its name unused in the project) and its items, all or nothing."""
    body = await parsed_body(request, NewDataset)
    return await stored(
        lambda: datasets.create_dataset(
            engine_of(request),
            project_id=caller.project_id,
            user_id=body.user_id,
            name=body.name,
            description=body.description,
            items=body.items,
        )
    )


@router.get("/datasets/by-name", summary="One dataset with its items", responses=KNOWN)
async def get_dataset(request: Request, caller: CallerDep, name: NameQuery) -> DatasetContents:
    """The dataset with this name and its items, in order."""
    return await stored(
        lambda: datasets.get_dataset(engine_of(request), project_id=caller.project_id, name=name)
    )


@router.post("/datasets/items", summary="Append items to a dataset", responses=KNOWN)
async def post_dataset_items(request: Request, caller: CallerDep) -> Dataset:
    """Append the items, all or none."""
    body = await parsed_body(request, MoreItems)
    return await stored(
        lambda: datasets.add_items(
            engine_of(request), project_id=caller.project_id, name=body.name, items=body.items
        )
    )


@router.post("/datasets/turns", summary="Append recorded turns' prompts to a dataset", responses=KNOWN)
async def post_dataset_turns(request: Request, caller: CallerDep) -> Dataset:
    """Each turn's prompt becomes an item; the answer it got is kept in the item's metadata."""
    body = await parsed_body(request, TurnsToAdd)
    return await stored(
        lambda: datasets.add_turns(
            engine_of(request), project_id=caller.project_id, name=body.name, prompt_ids=body.prompt_ids
        )
    )


@router.post("/experiment-runs", summary="Store an experiment run with all of its cells", responses=BAD_INPUT)
async def post_experiment_run(request: Request, caller: CallerDep) -> BatchRun:
    """A pending experiment run (a batch run of kind ``experiment``) and its cells, all or nothing."""
    body = await parsed_body(request, NewExperimentRun)
    return await stored(
        lambda: experiment_runs.create_experiment_run(
            engine_of(request),
            project_id=caller.project_id,
            user_id=body.user_id,
            name=body.name,
            settings=body.settings,
            cells=body.cells,
        )
    )


@router.get("/experiment-runs", summary="The newest experiment runs", responses=REFUSALS)
def get_experiment_runs(
    request: Request, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[BatchRun]:
    """The project's newest experiment runs."""
    return batch_runs.recent_runs(
        engine_of(request), project_id=caller.project_id, limit=limit, kind=batch_runs.EXPERIMENT
    )
