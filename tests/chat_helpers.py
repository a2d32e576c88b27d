"""Shared builders for the chat tests: a client on the loopback server and turn readers."""

from __future__ import annotations

from sqlmodel import Session, select

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.models import Turn
from tests.fixtures.openai_server import FakeOpenAIServer

USER = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALCULATOR_TOOL = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
    },
}


def client_for(
    server: FakeOpenAIServer,
    sqlite_url: str,
    *,
    max_retries: int = 0,
    timeout: float = 5.0,
    team_session: str | None = None,
    **settings: object,
) -> Bilan:
    """A local client for ``alice`` whose chat calls go to the loopback server (``settings`` added)."""
    return Bilan(
        load_settings(
            database_url=sqlite_url,
            user_id="alice",
            telemetry=False,
            openai_base_url=server.base_url,
            openai_api_key="sk-test-key",
            max_retries=max_retries,
            timeout=timeout,
            **settings,
        ),
        team_session=team_session,
    )


def all_turns(client: Bilan) -> list[Turn]:
    """Every turn in the client's database, oldest first."""
    with Session(client.engine) as session:
        return list(session.exec(select(Turn).order_by(Turn.id)).all())


def only_turn(client: Bilan) -> Turn:
    """The single turn in the client's database (fails when there are none or several)."""
    turns = all_turns(client)
    assert len(turns) == 1, f"expected exactly one turn, found {len(turns)}"
    return turns[0]
