"""Small builders shared by tests: turns and votes at fixed times, server-mode clients."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.settings import load_settings
from bilan_core.store.models import Turn
from bilan_core.store.turns import record_turn


def add_turn(engine: Engine, *, model: str = "gpt-4o-mini", user_id: str = "alice", **fields: object) -> str:
    """Insert a finished turn and return its prompt id."""
    prompt_id = str(fields.pop("prompt_id", uuid.uuid4()))
    fields.setdefault("created_ms", now_ms())
    record_turn(engine, Turn(prompt_id=prompt_id, user_id=user_id, model=model, **fields))
    return prompt_id


def figures(*, tokens: tuple[int, int], latency_ms: float, ttft_ms: float | None = None) -> dict[str, object]:
    """A turn's token counts (prompt, completion) and timings, as fields of ``Turn`` or ``ChatEntry``."""
    prompt_tokens, completion_tokens = tokens
    counts = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    return counts | {"latency_ms": latency_ms, "ttft_ms": ttft_ms}


def server_options(key: str, endpoint: str, **extra: object) -> dict[str, object]:
    """Settings of a server-mode client for a test server: no telemetry, the outbox sent every 50 ms."""
    options: dict[str, object] = {"mode": "server", "api_key": key, "endpoint": endpoint}
    return options | {"telemetry": False, "batch_interval": 0.05} | extra


def server_client(key: str, endpoint: str, **extra: object) -> Bilan:
    """A server-mode client for a test server (settings as ``server_options``, ``extra`` added)."""
    return Bilan(load_settings(**server_options(key, endpoint, **extra)))


def exit_codes_of_processes(
    target: Callable[..., None], arguments: Sequence[tuple[object, ...]]
) -> list[int | None]:
    """Run ``target`` once per argument tuple, all at once, each in its own process; their exit codes.

    The processes fork from a forkserver that imported the library and the target's module once: a clean,
    single-threaded parent (unlike the test process), without each child importing everything again.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bilan_core.client.bilan", target.__module__])
    workers = [context.Process(target=target, args=args) for args in arguments]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    return [worker.exitcode for worker in workers]
