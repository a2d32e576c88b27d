"""Recorded turns and experiment runs for review sessions, written through a client (either mode)."""

from __future__ import annotations

import uuid

from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.store.batch_runs import NewBatchItem
from bilan_core.store.experiment_runs import ExperimentSettings, VariantSpec
from bilan_core.store.models import Turn


def record_turns(client: Bilan, count: int, *, models: tuple[str, ...] = ("m-one", "m-two")) -> list[str]:
    """Record ``count`` answered turns (models taken in turn) and return their prompt ids, stored."""
    prompt_ids = []
    for number in range(count):
        prompt_id = f"turn-{number}-{uuid.uuid4().hex[:8]}"
        client.record_turn(
            Turn(
                prompt_id=prompt_id,
                user_id="author",
                model=models[number % len(models)],
                prompt_version="v1",
                prompt_text=f"question {number}",
                response=f"answer {number}",
                messages=[{"role": "user", "content": f"question {number}"}],
                created_ms=now_ms() - number,
            )
        )
        prompt_ids.append(prompt_id)
    assert client.flush(timeout=10)
    return prompt_ids


def answered_experiment(client: Bilan, *, items: int = 3) -> str:
    """An experiment run of ``items`` dataset items × variants ``short`` and ``long``, every cell answered."""
    settings = ExperimentSettings(
        dataset="questions",
        dataset_id="d1",
        variants=[VariantSpec(name="short", model="m-one"), VariantSpec(name="long", model="m-two")],
    )
    cells = [
        NewBatchItem(
            prompt=f"question {item}",
            metadata={
                "item": item,
                "variant": variant,
                "messages": [{"role": "user", "content": f"q{item}"}],
            },
        )
        for item in range(items)
        for variant in range(2)
    ]
    run = client.create_experiment_run(name="questions", settings=settings, cells=cells)
    prompt_ids = record_turns(client, len(cells), models=("m-one", "m-two"))
    for position, prompt_id in enumerate(prompt_ids):
        client.finish_batch_item(run.id, position=position, prompt_id=prompt_id)
    return run.id
