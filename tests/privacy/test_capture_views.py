"""What the pages and exports show for a text that was not captured: a clear note, never a blank."""

from __future__ import annotations

from sqlmodel import Session, select

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.sql_parts import NOT_CAPTURED
from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.models import Turn
from bilan_core.store.votes import cast_vote
from tests.app_support import new_app

SECRET_PROMPT = "my card is 4111 1111 1111 1111 zanzibar"


def test_the_playground_shows_the_level_in_force_and_says_what_was_not_captured(app_env, monkeypatch):
    monkeypatch.setenv("BILAN_CAPTURE", "metadata")
    at = new_app().run()
    assert any("Capture level in force: metadata" in caption.value for caption in at.caption)
    at.chat_input[0].set_value(SECRET_PROMPT).run()
    at.run()  # read back from the database
    assert not at.exception, [e.value for e in at.exception]
    assert at.chat_message[0].caption[0].value == "The prompt was not captured (capture level metadata)."
    assert at.chat_message[1].caption[0].value == "The answer was not captured (capture level metadata)."
    with Session(app_env) as session:
        turn = session.exec(select(Turn)).one()
    assert (turn.prompt_text, turn.prompt_chars, turn.capture) == (None, len(SECRET_PROMPT), "metadata")


def test_comments_and_the_csv_export_say_not_captured_instead_of_a_blank(sqlite_url):
    settings = load_settings(database_url=sqlite_url, user_id="alice", capture="metadata", telemetry=False)
    client = Bilan(settings)
    reply = client.create_chat_completion(messages=[{"role": "user", "content": SECRET_PROMPT}])
    cast_vote(client.engine, prompt_id=reply.prompt_id, user_id="reviewer", value=-1, comment="see prompt")
    exported = client.export("csv", AnalyticsFilter()).decode()
    assert NOT_CAPTURED in exported and "zanzibar" not in exported
    page = client.comments(AnalyticsFilter())
    assert list(page.rows["prompt_text"]) == [NOT_CAPTURED]
    assert list(page.rows["response"]) == [NOT_CAPTURED]
    full = Bilan(load_settings(database_url=sqlite_url, user_id="bob", telemetry=False))
    kept = full.create_chat_completion(messages=[{"role": "user", "content": "plain words"}])
    cast_vote(full.engine, prompt_id=kept.prompt_id, user_id="reviewer", value=1, comment="fine")
    assert "plain words" in set(full.comments(AnalyticsFilter()).rows["prompt_text"])
