"""Server mode's prompt calls: versions and labels stored on the server, in the key's project.

Reads of one version go through ``PromptCache`` (fresh for ``BILAN_PROMPT_CACHE_SECONDS``; the last one
read when the server does not answer). Writes go straight to the server, never through the outbox.
"""

from __future__ import annotations

import logging

from pydantic import TypeAdapter

from bilan_core.analytics.prompt_figures import VersionFigures
from bilan_core.remote.connection import (
    RefusedInputError,
    ServerConnection,
    ServerRequestError,
    parse,
    parse_list,
)
from bilan_core.remote.prompt_cache import CacheKey
from bilan_core.store.prompts import NewPromptVersion, PromptSummary, StoredPromptVersion

log = logging.getLogger(__name__)
SUMMARIES = TypeAdapter(list[PromptSummary])
VERSIONS = TypeAdapter(list[StoredPromptVersion])
FIGURES = TypeAdapter(list[VersionFigures])


class ServerPromptCalls(ServerConnection):
    """The prompt calls of the ``Backend`` protocol, over HTTP, with the read cache."""

    def add_prompt_version(self, new: NewPromptVersion) -> StoredPromptVersion:
        """Store a version on the server (the server checks it again)."""
        stored = parse(StoredPromptVersion, self._request("POST", "/api/prompts", json=new.model_dump()))
        self.prompt_cache.forget(new.name)
        return stored

    def find_prompt_version(
        self, *, name: str, version: int | None, label: str | None
    ) -> StoredPromptVersion:
        """One version: from the cache while fresh, else from the server, else the last one read."""
        key: CacheKey = (name, version, label)
        cached = self.prompt_cache.fresh(key)
        if cached is not None:
            return cached
        params = {"name": name, "version": version, "label": label}
        try:
            reply = self._request(
                "GET", "/api/prompts/version", params={k: v for k, v in params.items() if v is not None}
            )
        except RefusedInputError:
            raise
        except ServerRequestError as exc:
            last = self.prompt_cache.last(key)
            if last is None:
                raise
            log.warning("serving prompt %r v%s from the cache: %s", name, last.version, exc)
            return last
        stored = parse(StoredPromptVersion, reply)
        self.prompt_cache.keep(key, stored)
        return stored

    def set_prompt_label(self, *, name: str, version: int, label: str) -> StoredPromptVersion:
        """Move a label on the server."""
        body = {"name": name, "version": version, "label": label}
        stored = parse(StoredPromptVersion, self._request("PUT", "/api/prompts/labels", json=body))
        self.prompt_cache.forget(name)
        return stored

    def list_prompts(self) -> list[PromptSummary]:
        """The project's prompts on the server."""
        return parse_list(SUMMARIES, self._get("/api/prompts", {}))

    def prompt_versions(self, *, name: str) -> list[StoredPromptVersion]:
        """A prompt's versions on the server, newest first."""
        return parse_list(VERSIONS, self._get("/api/prompts/versions", {"name": name}))

    def prompt_figures(self, *, name: str) -> list[VersionFigures]:
        """Each version's figures on the server (after a flush, so new answers and votes count)."""
        return parse_list(FIGURES, self._read("GET", "/api/prompts/figures", params={"name": name}))
