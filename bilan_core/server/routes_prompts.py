"""Versioned prompts over HTTP, in the caller's project: list, create, read one version, list versions, label.

Names travel as query fields or in the body (a prompt name may hold any character, ``/`` included).
Every new version is checked again here as the SDK checks it; a refusal is ``{"error": ...}`` with 400,
and a prompt, version or label that does not exist is a 404 whose message names what exists.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from bilan_core.analytics.prompt_figures import VersionFigures, prompt_version_figures
from bilan_core.limits import MAX_LABEL_LENGTH, check_label
from bilan_core.prompts.building import new_prompt_version
from bilan_core.prompts.checks import MAX_VERSION, checked_label, checked_name, checked_version
from bilan_core.prompts.version import PRODUCTION
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.deps import REFUSALS, CallerDep, CleanText, engine_of, parsed_body, stored
from bilan_core.server.errors import ApiError
from bilan_core.store import prompts
from bilan_core.store.prompts import NewPromptVersion, PromptSummary, StoredPromptVersion

router = APIRouter(prefix="/api", tags=["prompts"])
PromptName = Annotated[
    str, Query(min_length=1, max_length=MAX_LABEL_LENGTH, description="the prompt's name"), CleanText
]
Label = Annotated[str | None, Query(min_length=1, max_length=MAX_LABEL_LENGTH), CleanText]
BAD_INPUT: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    400: {"model": ErrorReply, "description": "The input cannot be stored as it is; the message says why"},
}
KNOWN: dict[int | str, dict[str, object]] = {
    **BAD_INPUT,
    404: {
        "model": ErrorReply,
        "description": "No such prompt, version or label; the message names what exists",
    },
}


class LabelMove(BaseModel):
    """Point ``label`` at version ``version`` of prompt ``name``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int
    label: str


@router.get("/prompts", summary="The project's prompts", responses=REFUSALS)
def get_prompts(request: Request, caller: CallerDep) -> list[PromptSummary]:
    """Every prompt with its newest version, its number of versions and its labels."""
    return prompts.list_prompt_summaries(engine_of(request), project_id=caller.project_id)


@router.post("/prompts", summary="Save a prompt's next version", responses=BAD_INPUT)
async def post_prompt(request: Request, caller: CallerDep) -> StoredPromptVersion:
    """Store the next version of the named prompt with its labels, all or nothing."""
    body = await parsed_body(request, NewPromptVersion)

    def store() -> StoredPromptVersion:
        new = new_prompt_version(
            body.name,
            body.messages,
            author=check_label("author", body.author),
            model=body.model,
            params=body.params,
            labels=body.labels,
            note=body.note,
        )
        return prompts.add_prompt_version(engine_of(request), project_id=caller.project_id, new=new)

    return await stored(store)


@router.get("/prompts/version", summary="One version, by number or label", responses=KNOWN)
async def get_prompt_version(
    request: Request,
    caller: CallerDep,
    name: PromptName,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    label: Label = None,
) -> StoredPromptVersion:
    """Version ``version``, else the one ``label`` (default ``production``) points at."""
    if version is not None and label is not None:
        raise ApiError(400, "give a label or a version, not both")
    return await stored(
        lambda: prompts.find_prompt_version(
            engine_of(request),
            project_id=caller.project_id,
            name=name,
            version=version,
            label=None if version is not None else label or PRODUCTION,
        )
    )


@router.get("/prompts/versions", summary="Every version of a prompt", responses=KNOWN)
async def get_prompt_versions(
    request: Request, caller: CallerDep, name: PromptName
) -> list[StoredPromptVersion]:
    """The prompt's versions, newest first, each with its labels."""
    return await stored(
        lambda: prompts.prompt_versions(engine_of(request), project_id=caller.project_id, name=name)
    )


@router.get(
    "/prompts/figures", summary="Each version's trust score, votes, tokens, latency", responses=BAD_INPUT
)
async def get_prompt_figures(request: Request, caller: CallerDep, name: PromptName) -> list[VersionFigures]:
    """Per version with answers, newest first: trust score, interval, votes, tokens, median latency."""
    return await stored(
        lambda: prompt_version_figures(engine_of(request), project_id=caller.project_id, name=name)
    )


@router.put("/prompts/labels", summary="Point a label at a version", responses=KNOWN)
async def put_prompt_label(request: Request, caller: CallerDep) -> StoredPromptVersion:
    """Move the label onto the version (off the one it was on)."""
    body = await parsed_body(request, LabelMove)
    return await stored(
        lambda: prompts.set_prompt_label(
            engine_of(request),
            project_id=caller.project_id,
            name=checked_name(body.name),
            version=checked_version(body.version),
            label=checked_label(body.label),
        )
    )
