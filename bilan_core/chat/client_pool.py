"""The OpenAI clients of the tracked calls: one sync client, one async client per event loop, shared.

A Bilan client and its per-visitor copies share one ``ChatClients``, so connections are pooled across
visitors. With no endpoint configured, the clients talk to the in-process demo model.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import httpx2
import openai

from bilan_core.chat.demo_model import DEMO_BASE_URL, AsyncDemoTransport, DemoTransport
from bilan_core.settings import BilanSettings

# A base URL without a key (a local server such as Ollama): the SDK insists on some key text.
KEYLESS_PLACEHOLDER = "no-key"
# The demo model answers in-process: no key, and nothing to retry.
DEMO_OPTIONS: dict[str, Any] = {"api_key": "bilan-demo", "base_url": DEMO_BASE_URL, "max_retries": 0}


class ChatClients:
    """The OpenAI clients one Bilan client and its per-visitor copies share, made on first use."""

    def __init__(self, settings: BilanSettings) -> None:
        self._settings = settings
        # What every turn records about the endpoint, worked out once (the clients keep these settings).
        self.provider = settings.provider_host
        self.demo = settings.uses_demo_model
        self._lock = threading.Lock()
        self._sync: openai.OpenAI | None = None
        # Async connections belong to one event loop, so there is one async client per loop.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
            weakref.WeakKeyDictionary()
        )

    def sync(self) -> openai.OpenAI:
        """The synchronous client."""
        with self._lock:
            if self._sync is None:
                self._sync = make_sync_client(self._settings)
            return self._sync

    def for_running_loop(self) -> openai.AsyncOpenAI:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                client = self._async[loop] = make_async_client(self._settings)
            return client

    def close(self) -> None:
        """Close the sync client now and the async ones whose loop is still running."""
        with self._lock:
            sync, self._sync = self._sync, None
            async_clients, self._async = dict(self._async), weakref.WeakKeyDictionary()
        if sync is not None:
            sync.close()
        for loop, client in async_clients.items():
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(client.close(), loop)


def make_sync_client(settings: BilanSettings) -> openai.OpenAI:
    """An openai client for the settings: the in-process demo model or the configured endpoint."""
    if settings.uses_demo_model:
        return openai.OpenAI(
            **DEMO_OPTIONS, http_client=httpx2.Client(transport=DemoTransport(settings.demo_stream_delay))
        )
    return openai.OpenAI(**endpoint_options(settings))


def make_async_client(settings: BilanSettings) -> openai.AsyncOpenAI:
    """The async twin of ``make_sync_client``."""
    if settings.uses_demo_model:
        demo_http = httpx2.AsyncClient(transport=AsyncDemoTransport(settings.demo_stream_delay))
        return openai.AsyncOpenAI(**DEMO_OPTIONS, http_client=demo_http)
    return openai.AsyncOpenAI(**endpoint_options(settings))


def endpoint_options(settings: BilanSettings) -> dict[str, Any]:
    """The openai client options for the configured endpoint: key, base URL, retries and timeout."""
    return {
        "api_key": api_key(settings),
        "base_url": settings.openai_base_url,
        "max_retries": settings.max_retries,
        "timeout": settings.timeout,
    }


def api_key(settings: BilanSettings) -> str:
    """The key to send: the configured OpenAI key, or a placeholder for a keyless local server."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return key or KEYLESS_PLACEHOLDER
