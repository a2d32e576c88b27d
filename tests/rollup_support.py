"""A random history written through every write path, for the roll-up tests.

Project ``LOCAL_PROJECT`` is written by local mode's store functions (turns, votes cast, changed and
cleared, conversations deleted); project ``SERVER_PROJECT`` by the server's ingestion, with a turn's
start and outcome in separate requests in either order and votes that arrive before their turn.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Engine, select

from bilan_core.clock import MS_PER_DAY
from bilan_core.remote.wire_events import VOTE_CAST, VOTE_CLEARED, make_event, turn_events
from bilan_core.server.ingest import ingest
from bilan_core.store import histograms
from bilan_core.store.conversations import delete_conversation, start_conversation
from bilan_core.store.models import LOCAL_PROJECT, Turn
from bilan_core.store.rollup_tables import DAILY, LEVELS, TURN_COUNTERS, VOTE_COUNTERS
from bilan_core.store.turns import record_turn
from bilan_core.store.votes import cast_vote, clear_vote

SERVER_PROJECT = 7
AT_MS = 1_790_000_000_000 + 13 * 3_600_000  # the "now" of the histories: mid-day, UTC
MODELS = ("gpt-4o", "gpt-4o-mini", "claude")
USERS = ("ana", "ben", "cho", "dee")
SESSIONS = (None, None, "review", "sprint")
VERSIONS = (None, "v1", "v2")
STORED_PROMPTS = ((None, None), (None, None), ("support", 1), ("support", 2), ("triage", 1))


def random_turn(rng: random.Random, number: int, conversation: str | None) -> Turn:
    """A turn with random labels (stored prompt too), outcome, tokens and timings within the last 60 days."""
    status = rng.choice(("ok", "ok", "ok", "error", "cancelled"))
    latency = None if rng.random() < 0.1 else round(rng.lognormvariate(6.5, 1.2), 1)
    prompt_name, prompt_number = rng.choice(STORED_PROMPTS)
    return Turn(
        prompt_id=f"p{number}",
        conversation_id=conversation,
        user_id=rng.choice(USERS),
        model=rng.choice(MODELS),
        team_session=rng.choice(SESSIONS),
        prompt_version=rng.choice(VERSIONS),
        prompt_name=prompt_name,
        prompt_number=prompt_number,
        status=status,
        prompt_tokens=rng.choice((None, rng.randint(1, 900))),
        completion_tokens=None if status == "error" else rng.randint(0, 700),
        latency_ms=latency,
        ttft_ms=None if latency is None or rng.random() < 0.2 else round(latency * rng.random(), 1),
        created_ms=AT_MS - rng.randint(0, 60 * MS_PER_DAY),
        prompt_text="q",
        response="a",
    )


def local_history(engine: Engine, rng: random.Random, turns: int) -> None:
    """Turns, votes (cast, changed, cleared) and deleted conversations through local mode's functions."""
    conversations = [f"c{n}" for n in range(6)]
    for conversation in conversations:
        start_conversation(engine, user_id="ana", conversation_id=conversation)
    prompts = []
    for number in range(turns):
        turn = random_turn(rng, number, rng.choice([None, *conversations]))
        record_turn(engine, turn)
        prompts.append(turn)
        for _ in range(rng.choice((0, 1, 1, 2))):
            _local_vote(engine, rng, rng.choice(prompts))
        if rng.random() < 0.1:
            clear_vote(engine, prompt_id=rng.choice(prompts).prompt_id, user_id=rng.choice(USERS))
    for conversation in rng.sample(conversations, 2):
        delete_conversation(engine, conversation_id=conversation)


def _local_vote(engine: Engine, rng: random.Random, turn: Turn) -> None:
    cast_vote(
        engine,
        prompt_id=turn.prompt_id,
        user_id=rng.choice(USERS),
        value=rng.choice((1, -1)),
        comment=rng.choice((None, None, "fine", "wrong")),
        team_session=rng.choice(SESSIONS),
        at_ms=min(AT_MS + rng.choice((0, 3_600_000)), turn.created_ms + rng.randint(0, 3 * MS_PER_DAY)),
    )


def server_history(engine: Engine, rng: random.Random, turns: int) -> None:
    """The same kinds of history as wire events, shuffled across requests of up to 12 events."""
    for request in server_requests(rng, turns):
        reply = ingest(engine, project_id=SERVER_PROJECT, items=request, check_text=False)
        assert reply.stats.errors == 0, reply.errors


def server_requests(rng: random.Random, turns: int) -> list[list[dict[str, Any]]]:
    """``server_history``'s requests: each turn's start, outcome and votes (some cleared) shuffled apart."""
    events: list[dict[str, Any]] = []
    for number in range(turns):
        turn = random_turn(rng, number, None)
        events.extend(turn_events(turn))
        for _ in range(rng.choice((0, 1, 2))):
            moment = turn.created_ms + rng.randint(0, 2 * MS_PER_DAY)
            user = rng.choice(USERS)
            properties = {"turn_id": turn.prompt_id, "value": rng.choice((1, -1)), "timestamp": moment}
            properties["comment"] = rng.choice((None, "good"))
            events.append(make_event(VOTE_CAST, user_id=user, properties=properties, timestamp_ms=moment))
            if rng.random() < 0.2:
                cleared = {"turn_id": turn.prompt_id, "timestamp": moment + 1000}
                events.append(
                    make_event(VOTE_CLEARED, user_id=user, properties=cleared, timestamp_ms=moment + 1000)
                )
    rng.shuffle(events)
    requests = []
    while events:
        size = rng.randint(1, 12)
        requests.append(events[:size])
        events = events[size:]
    return requests


def rollup_rows(engine: Engine) -> dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]:
    """The roll-up rows that count something, by table name and key, histograms decoded ("turns" and
    "votes" are the daily per-user tables)."""
    found: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for level in LEVELS:
            turns = found.setdefault(level.turns.name, {})
            for row in connection.execute(select(level.turns)).mappings():
                values = (
                    *(row[name] for name in TURN_COUNTERS),
                    dict(histograms.decode(row["latency_hist"])),
                    dict(histograms.decode(row["ttft_hist"])),
                )
                if any(values):
                    turns[tuple(row[name] for name in level.turn_key)] = values
            votes = found.setdefault(level.votes.name, {})
            for row in connection.execute(select(level.votes)).mappings():
                values = tuple(row[name] for name in VOTE_COUNTERS)
                if any(values[:3]):
                    votes[tuple(row[name] for name in level.vote_key)] = values
    found["turns"], found["votes"] = found[DAILY.turns.name], found[DAILY.votes.name]
    return found


__all__ = [
    "LOCAL_PROJECT",
    "SERVER_PROJECT",
    "local_history",
    "rollup_rows",
    "server_history",
    "server_requests",
]
