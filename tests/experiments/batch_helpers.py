"""Shared builders for the batch tests: numbered prompt files and runs started from files."""

from __future__ import annotations

import dataclasses

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_runs import start_batch
from bilan_core.store.batch_runs import BatchOptions
from bilan_core.store.models import BatchRun

GPT_4O = BatchOptions(model="gpt-4o")


def prompts_txt(count: int) -> bytes:
    """A TXT batch file of ``count`` lines, ``Question number 0`` onwards."""
    return "".join(f"Question number {n}\n" for n in range(count)).encode()


def start_file(
    client: Bilan, data: bytes, *, file_name: str = "p.txt", options: BatchOptions = GPT_4O
) -> BatchRun:
    """A pending run of the file's prompts (for gpt-4o unless ``options`` say otherwise)."""
    return start_batch(client, file_name=file_name, data=data, options=options)


def start_numbered(client: Bilan, count: int, *, concurrency: int | None = None) -> BatchRun:
    """A pending run of ``count`` numbered questions for gpt-4o (``concurrency`` at a time if given)."""
    options = GPT_4O if concurrency is None else dataclasses.replace(GPT_4O, concurrency=concurrency)
    return start_file(client, prompts_txt(count), options=options)
