"""The Analytics page's downloads and the Settings page's schema status over HTTP, for the caller's project.

``GET /api/exports/{kind}`` answers the CSV, fine-tuning JSONL or DPO JSONL export of what the analytics
filter selects, made from the server's database; ``GET /api/schema`` says which migration it is at.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bilan_core.analytics.exports import EXPORT_FILES, export_bytes
from bilan_core.remote.experiment_calls import SchemaStatus
from bilan_core.server.deps import REFUSALS, CallerDep, current_caller, engine_of
from bilan_core.server.routes_analytics import REFUSALS_AND_BAD_FILTER, FilterDep
from bilan_core.store.engine import schema_status

router = APIRouter(prefix="/api", tags=["exports"])
Kind = Literal["csv", "finetune", "dpo"]


@router.get(
    "/exports/{kind}",
    summary="Turns and votes as CSV, fine-tuning JSONL or DPO JSONL, with the analytics filter",
    response_class=Response,
    responses={
        **REFUSALS_AND_BAD_FILTER,
        200: {"content": {"text/csv": {}, "application/jsonl": {}}, "description": "The export's bytes"},
    },
)
async def get_export(
    request: Request, caller: CallerDep, kind: Annotated[Kind, Path()], query: FilterDep
) -> Response:
    """The export of the project's turns and votes the filter selects (UTF-8, named for a download)."""
    where = query.scoped(caller)
    data = await run_in_threadpool(export_bytes, engine_of(request), kind, where)
    file_name, mime = EXPORT_FILES[kind]
    headers = {"Content-Disposition": f'attachment; filename="{file_name}"'}
    return Response(content=data, media_type=mime, headers=headers)


@router.get(
    "/schema",
    summary="The server database's migration revision",
    responses=REFUSALS,
    dependencies=[Depends(current_caller)],
)
def get_schema(request: Request) -> SchemaStatus:
    """The migration the database is at, and whether it is the newest this server knows."""
    return SchemaStatus(status=schema_status(engine_of(request)))
