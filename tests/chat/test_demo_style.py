"""bilan-demo answers visibly by the system prompt, the variables and the temperature, at a readable pace."""

from __future__ import annotations

import asyncio
import json
import time

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings

QUESTION = {"role": "user", "content": "Why is the sky blue?"}


def ask(bilan: Bilan, system: str | None = None, **options) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [QUESTION]
    return bilan.create_chat_completion(messages, **options).content


def test_the_system_prompt_shows_in_the_answer(bilan: Bilan) -> None:
    plain = ask(bilan)
    assert "Following my instructions" not in plain
    brief = ask(bilan, "Be brief. You work for ACME.")
    assert brief.startswith("Following my instructions (“Be brief.”):") and brief.count(".") < plain.count(
        "."
    )
    assert ask(bilan, "Answer in bullet points.").count("\n- ") >= 2
    assert ask(bilan, "You are a pirate.").startswith("Arr! ")
    assert json.loads(ask(bilan, "Reply in JSON."))["answer"].startswith("Following my instructions")
    assert ask(bilan, "Answer in French.").startswith("Bonjour ! ")
    assert ask(bilan, "Be formal.").endswith("Kind regards.")


def test_a_prompts_variables_show_in_the_answer(bilan: Bilan) -> None:
    prompt = bilan.create_prompt("support", "You answer for {{company}}.")
    acme = bilan.create_chat_completion([QUESTION], prompt=prompt, variables={"company": "ACME"}).content
    globex = bilan.create_chat_completion([QUESTION], prompt=prompt, variables={"company": "Globex"}).content
    assert "You answer for ACME." in acme and "You answer for Globex." in globex


def test_temperature_zero_is_deterministic_and_warm_answers_vary(bilan: Bilan) -> None:
    system = "Be friendly."
    assert len({ask(bilan, system, temperature=0) for _ in range(3)}) == 1
    assert ask(bilan, system) == ask(bilan, system, temperature=0)
    warm = {ask(bilan, system, temperature=1.5) for _ in range(12)}
    assert len(warm) > 1
    assert ask(bilan, system, temperature=1.2, seed=7) == ask(bilan, system, temperature=1.2, seed=7)


def test_the_stream_keeps_a_readable_pace_unless_turned_off(sqlite_url: str) -> None:
    paced = Bilan(load_settings(database_url=sqlite_url, telemetry=False, demo_stream_delay=0.02))
    started = time.perf_counter()
    stream = paced.create_streaming_chat([{"role": "user", "content": "Hello"}])
    words = list(stream.stream)
    assert time.perf_counter() - started >= 0.02 * (len(words) - 1) > 0.2

    async def streamed() -> float:
        begun = time.perf_counter()
        response = await paced.acreate_streaming_chat([{"role": "user", "content": "Hello"}])
        async for _ in response:
            pass
        return time.perf_counter() - begun

    assert asyncio.run(streamed()) >= 0.02 * (len(words) - 1)
    fast = Bilan(load_settings(database_url=sqlite_url, telemetry=False))  # the tests set the pace off
    started = time.perf_counter()
    list(fast.create_streaming_chat([{"role": "user", "content": "Hello"}]).stream)
    assert time.perf_counter() - started < 0.2
    paced.close()
    fast.close()
