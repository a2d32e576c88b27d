"""Property-based fuzzing (hypothesis) of the wire validators and of ``POST /api/events`` on PostgreSQL.

Batches mix events valid by construction with arbitrary JSON and with valid events broken one way
(a type, a time outside the window, a label over its bytes, deep nesting, a NUL, a number that is not
finite). Whatever comes, the server answers below 500 and stores every valid event of the batch.
Bounded: a few dozen examples each, no shrinking database, so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.limits import MAX_JSON_DEPTH, json_problem
from bilan_core.server.validation import TimeWindow, validate_events
from bilan_core.store.models import EVENTS

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
STORABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
LABEL = st.text(STORABLE, min_size=1, max_size=150)  # 150 characters of up to 4 bytes: within 600 bytes
TEXT = st.text(STORABLE, max_size=300)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | FINITE | TEXT
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
EXTRA = st.dictionaries(st.text(STORABLE, max_size=20).map(lambda key: f"x_{key}"), JSON_VALUE, max_size=4)
# Anything JSON can say (NaN is not JSON: a body holding it is refused whole, with 400).
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)


KINDS = [
    "turn_started",
    "turn_completed",
    "turn_failed",
    "vote_cast",
    "vote_cleared",
    "conversation_started",
    "conversation_ended",
    "custom",
]


@st.composite
def valid_event(draw: st.DrawFn) -> dict[str, Any]:
    """An event every rule accepts: known or custom type, its required properties, storable text."""
    kind = draw(st.sampled_from(KINDS))
    properties: dict[str, Any] = draw(EXTRA)
    if kind.startswith(("turn_", "vote_")):
        properties["turnId"] = draw(LABEL)
    if kind.startswith("conversation_"):
        properties["conversation_id"] = draw(LABEL)
    if kind == "vote_cast":
        properties["value"] = draw(st.sampled_from([1, -1]))
        properties["comment"] = draw(st.none() | st.text(STORABLE, max_size=200))
    if kind.startswith("turn_"):
        properties["model"] = draw(st.none() | st.just("") | LABEL)
        properties["errorMessage"] = draw(st.none() | st.just("") | TEXT)
        properties["responseTime"] = draw(st.none() | st.floats(0, 600))
    event_type = (
        draw(st.text(STORABLE, min_size=1, max_size=90).map(lambda name: f"c_{name}"))
        if kind == "custom"
        else kind
    )
    return {
        "eventId": f"fuzz-{uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))}",
        "eventType": event_type,
        "userId": draw(LABEL),
        "timestamp": now_ms() - draw(st.integers(0, 30 * MS_PER_DAY)),
        "properties": properties,
        "promptText": draw(st.none() | TEXT),
        "aiResponse": draw(st.none() | TEXT),
    }


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BREAKS = {
    "timestamp": lambda event: event | {"timestamp": 253_402_300_799_999},
    "old": lambda event: event | {"timestamp": now_ms() - 5000 * MS_PER_DAY},
    "type": lambda event: event | {"userId": 5},
    "wide": lambda event: event | {"userId": "".join(chr(0x20000 + n) for n in range(200))},
    "deep": lambda event: event | {"properties": {"x": _deep(MAX_JSON_DEPTH + 1)}},
    "nul": lambda event: event | {"promptText": "a\x00b"},
    "vote": lambda event: event | {"eventType": "vote_cast", "properties": {"turn_id": "t", "value": 2}},
    "infinite": lambda event: event | {"properties": {"x": float("inf")}},
}


@st.composite
def broken_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event broken one way, so the server must refuse it alone."""
    return BREAKS[draw(st.sampled_from(sorted(BREAKS)))](draw(valid_event()))


def _body(events: list[Any], ascii_only: bool) -> bytes:
    # json.dumps writes inf as Infinity (not JSON): 1e400 is how a client would send it.
    return json.dumps({"events": events}, ensure_ascii=ascii_only).replace("Infinity", "1e400").encode()


@FUZZ
@given(items=st.lists(valid_event() | broken_event() | ANY_JSON, max_size=20), check_text=st.booleans())
def test_the_wire_validators_sort_any_input_into_accepted_and_refused(items, check_text):
    accepted, errors = validate_events(items, check_text=check_text)
    assert len(accepted) + len(errors) == len(items)
    window = TimeWindow.around(now_ms())
    for item in accepted:
        assert json_problem(item.event.properties, check_text=False) is None
        assert window.earliest <= item.event.timestamp <= window.latest + 60_000


@pytest.mark.postgres
def test_the_ingestion_endpoint_never_fails_and_always_stores_the_valid_events(server_project):
    @FUZZ
    @given(
        valid=st.lists(valid_event(), max_size=12),
        invalid=st.lists(broken_event() | ANY_JSON, max_size=8),
        ascii_only=st.booleans(),
        seed=st.integers(0, 1000),
    )
    def ingest(valid, invalid, ascii_only, seed):
        batch = valid + invalid
        random.Random(seed).shuffle(batch)
        reply = server_project.client.post(
            "/api/events", content=_body(batch, ascii_only), headers=server_project.headers()
        )
        assert reply.status_code == 200, reply.text[:500]
        wanted = {event["eventId"] for event in valid}
        with server_project.engine.connect() as connection:
            stored = set(
                connection.execute(select(EVENTS.c.event_id).where(EVENTS.c.event_id.in_(wanted))).scalars()
            )
        assert stored == wanted, reply.json()["errors"]

    ingest()


@pytest.mark.postgres
def test_arbitrary_bodies_never_get_a_server_error(server_project):
    @FUZZ
    @given(raw=st.binary(max_size=300) | ANY_JSON.map(lambda value: _body([value], ascii_only=True)))
    def post(raw):
        reply = server_project.client.post("/api/events", content=raw, headers=server_project.headers())
        assert reply.status_code < 500, reply.text[:300]
        assert reply.status_code == 200 or set(reply.json()) == {"error"}

    post()
