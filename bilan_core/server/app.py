"""``create_app``: the FastAPI application with its state, error handlers and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from pydantic import TypeAdapter
from sqlalchemy import text

from bilan_core.pricing import price_table
from bilan_core.remote.wire_events import ErrorReply, RequestBody
from bilan_core.server.body_limit import BodyLimit
from bilan_core.server.errors import ApiError, add_error_handlers
from bilan_core.server.planner_statistics import StatisticsKeeper
from bilan_core.server.prune_schedule import PruneSchedule
from bilan_core.server.ratelimit import make_limiter
from bilan_core.server.routes_analytics import router as analytics_router
from bilan_core.server.routes_conversations import router as conversations_router
from bilan_core.server.routes_datasets import router as datasets_router
from bilan_core.server.routes_events import router as events_router
from bilan_core.server.routes_experiments import router as experiments_router
from bilan_core.server.routes_exports import router as exports_router
from bilan_core.server.routes_privacy import router as privacy_router
from bilan_core.server.routes_prompts import router as prompts_router
from bilan_core.server.routes_reviews import router as reviews_router
from bilan_core.server.routes_stats import router as stats_router
from bilan_core.settings import BilanSettings, load_settings
from bilan_core.store.engine import get_engine
from bilan_core.version import __version__


def create_app(settings: BilanSettings | None = None) -> FastAPI:
    """A server on ``settings.database_url`` (migrated now), with the settings' limits."""
    settings = settings or load_settings()
    app = FastAPI(
        title="Bilan server",
        version=__version__,
        description="Ingests Bilan wire events and answers trust analytics, one project per API key.",
        lifespan=_lifespan,
    )
    app.state.engine = get_engine(settings.database_url)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    app.state.limiter = make_limiter(
        rate=settings.rate_limit, burst=settings.rate_limit_burst, redis_url=redis_url
    )
    app.add_middleware(BodyLimit, large_limit=settings.max_body_bytes)
    app.state.prices = price_table(settings.prices)
    app.state.capture = settings.capture_policy("full")  # lowered to each key's project level per request
    app.state.statistics = StatisticsKeeper(app.state.engine)
    app.state.retention_days = settings.retention_days
    add_error_handlers(app)
    app.add_api_route("/health", _health, methods=["GET"], tags=["health"], summary="Is the server up")
    app.include_router(events_router)
    app.include_router(stats_router)
    app.include_router(analytics_router)
    app.include_router(conversations_router)
    app.include_router(experiments_router)
    app.include_router(datasets_router)
    app.include_router(exports_router)
    app.include_router(prompts_router)
    app.include_router(privacy_router)
    app.include_router(reviews_router)
    _add_event_schemas(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, prune on a schedule when ``BILAN_RETENTION_DAYS`` is set."""
    days: int | None = app.state.retention_days
    schedule = PruneSchedule(app.state.engine, days=days) if days is not None else None
    if schedule is not None:
        schedule.start()
    yield
    if schedule is not None:
        schedule.stop()


def _health(request: Request) -> dict[str, str]:
    """``{"status": "ok"}`` when the database answers (no API key needed)."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise ApiError(503, f"database unavailable: {type(exc).__name__}") from exc
    return {"status": "ok", "version": __version__}


def _add_event_schemas(app: FastAPI) -> None:
    """Put the wire event schemas, used by the hand-read ``POST /api/events`` body, into components;
    every 422 is declared as the ``{"error": ...}`` the error handlers answer."""
    definitions: dict[str, Any] = (
        TypeAdapter(RequestBody).json_schema(ref_template="#/components/schemas/{model}").get("$defs", {})
    )
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
            _declare_422_as_error_reply(schema)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_422_as_error_reply(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    components.setdefault("ErrorReply", TypeAdapter(ErrorReply).json_schema())
    for components_name in ("HTTPValidationError", "ValidationError"):
        components.pop(components_name, None)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None:
                invalid["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorReply"}}
                }
