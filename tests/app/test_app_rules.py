"""Rules behind the app: access password, identity labels, thumbs, masked configuration, secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bilan_core.app.config_view import (
    HIDDEN,
    NOT_SET,
    schema_state,
    setting_rows,
    summary_rows,
    telemetry_state,
)
from bilan_core.app.feedback_prompts import (
    THUMBS_DOWN_QUESTION,
    THUMBS_UP_QUESTION,
    apply_thumbs,
    comment_question,
    thumbs_from_vote,
    vote_from_thumbs,
)
from bilan_core.app.feedback_state import change_vote, comment_for_vote
from bilan_core.app.identity import (
    MAX_LABEL_LENGTH,
    identity_from_link,
    team_session_label,
    user_id_from_display_name,
)
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.password_gate import PasswordThrottle, password_matches, password_required
from bilan_core.app.playground import activity_time, short_title
from bilan_core.app.secret_settings import overrides_from_named
from bilan_core.client import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.engine import head_revision
from tests.helpers import add_turn


def test_no_password_means_open_access():
    settings = load_settings()
    assert not password_required(settings)
    assert password_matches(settings, None)
    assert not password_required(load_settings(app_password=""))


def test_password_must_match_exactly():
    settings = load_settings(app_password="s3cret-pass")
    assert password_required(settings)
    assert password_matches(settings, "s3cret-pass")
    for wrong in ("", None, "s3cret", "s3cret-pass ", "S3CRET-PASS", "s3cret-pass-more", 42):
        assert not password_matches(settings, wrong)  # type: ignore[arg-type]


def test_wrong_passwords_slow_down_with_a_growing_delay_after_five():
    settings = load_settings(app_password="s3cret-pass")
    now = [1000.0]
    throttle = PasswordThrottle(clock=lambda: now[0])
    for _ in range(4):
        assert not throttle.attempt(settings, "guess")
        assert throttle.wait_seconds() == 0
    delays = []
    for _ in range(4):
        assert not throttle.attempt(settings, "guess")
        delays.append(throttle.wait_seconds())
        assert not throttle.attempt(settings, "s3cret-pass")  # while locked, not even the right one
        now[0] += delays[-1]
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert throttle.attempt(settings, "s3cret-pass") and throttle.failures == 0
    throttle.failures = 40
    throttle.attempt(settings, "guess")
    assert throttle.wait_seconds() == 300.0


def test_password_with_non_ascii_characters():
    settings = load_settings(app_password="mot-de-passe-été")
    assert password_matches(settings, "mot-de-passe-été")
    assert not password_matches(settings, "mot-de-passe-ete")


def test_display_name_becomes_user_id():
    assert user_id_from_display_name("  Alice   Martin ") == "Alice Martin"
    assert user_id_from_display_name("") is None
    assert user_id_from_display_name("   ") is None
    assert user_id_from_display_name(None) is None
    assert team_session_label(" review  June ") == "review June"


@pytest.mark.parametrize("bad", ["line\nbreak", "bell\x07", "x" * (MAX_LABEL_LENGTH + 1)])
def test_bad_display_names_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="display name"):
        user_id_from_display_name(bad)
    with pytest.raises(ValueError, match="team-session"):
        team_session_label(bad)


def test_thumbs_map_to_votes_and_back():
    assert vote_from_thumbs(1) == 1
    assert vote_from_thumbs(0) == -1
    assert vote_from_thumbs(None) is None
    assert thumbs_from_vote(1) == 1
    assert thumbs_from_vote(-1) == 0
    assert thumbs_from_vote(None) is None
    for value in (1, 0, None):
        assert thumbs_from_vote(vote_from_thumbs(value)) == value
    with pytest.raises(ValueError):
        vote_from_thumbs(3)
    with pytest.raises(ValueError):
        thumbs_from_vote(0)


def test_thumbs_cast_change_and_clear_the_stored_vote(bilan):
    prompt_id = add_turn(bilan.engine)
    assert apply_thumbs(bilan, prompt_id, 1) == 1
    assert bilan.get_prompt_stats(prompt_id).positive_votes == 1
    assert apply_thumbs(bilan, prompt_id, 0) == -1
    assert bilan.get_prompt_stats(prompt_id).negative_votes == 1
    assert bilan.get_prompt_stats(prompt_id).total_votes == 1
    assert apply_thumbs(bilan, prompt_id, None) is None
    assert bilan.get_prompt_stats(prompt_id).total_votes == 0
    with pytest.raises(ValueError):
        apply_thumbs(bilan, prompt_id, 2)
    assert bilan.get_prompt_stats(prompt_id).total_votes == 0


def test_comment_question_follows_the_vote():
    assert comment_question(1) == THUMBS_UP_QUESTION == "What made this response helpful?"
    assert comment_question(-1) == THUMBS_DOWN_QUESTION == "How could this response be improved?"
    with pytest.raises(ValueError):
        comment_question(0)


def test_configuration_masks_every_secret_a_url_can_hold(sqlite_url):
    settings = load_settings(
        database_url=sqlite_url + "?sslpassword=db-secret",
        openai_base_url="https://llm.example/v1?api-key=openai-secret",
        endpoint="https://bilan-token@bilan.example",
        telemetry_endpoint="https://t.example/c?token=telemetry-secret",
    )
    shown = " ".join(row.value for row in summary_rows(settings) + setting_rows(settings))
    for secret in ("db-secret", "openai-secret", "bilan-token", "telemetry-secret"):
        assert secret not in shown
    values = {row.setting: row.value for row in setting_rows(settings)}
    assert values["BILAN_ENDPOINT"] == "https://***@bilan.example"
    assert values["OPENAI_BASE_URL"] == "https://llm.example/v1?api-key=***"


def test_configuration_never_shows_a_secret(sqlite_url):
    secrets = ("sk-live-123456", "hunter2", "gate-pass", "bk_server_key")
    settings = load_settings(
        database_url=sqlite_url,
        openai_api_key=secrets[0],
        openai_base_url="https://bob:hunter2@llm.example/v1",
        app_password=secrets[2],
    )
    rows = summary_rows(settings) + setting_rows(settings)
    shown = " ".join(f"{row.label} {row.value}" for row in rows)
    for secret in secrets:
        assert secret not in shown
    values = {row.setting: row.value for row in setting_rows(settings)}
    assert values["OPENAI_API_KEY"] == HIDDEN
    assert values["BILAN_API_KEY"] == NOT_SET
    assert values["BILAN_APP_PASSWORD"] == HIDDEN
    assert values["OPENAI_BASE_URL"] == "https://bob:***@llm.example/v1"
    summary = {row.label: row.value for row in summary_rows(settings)}
    assert summary["Model endpoint"] == "llm.example"
    assert summary["Mode"] == "local"


def test_configuration_of_a_postgres_url_masks_the_password():
    settings = load_settings(database_url="postgresql+psycopg://bilan:hunter2@db.example/bilan")
    summary = {row.label: row.value for row in summary_rows(settings)}
    assert summary["Database"] == "postgresql+psycopg://bilan:***@db.example/bilan"
    assert summary["Model endpoint"].startswith("offline demo model")


def test_schema_status_reports_the_migration(sqlite_url):
    assert Bilan(load_settings(database_url=sqlite_url)).schema_status() == head_revision()


def test_secrets_map_to_setting_overrides():
    overrides = overrides_from_named(
        {"BILAN_DATABASE_URL": "sqlite:///x.db", "OPENAI_API_KEY": "sk-1", "unrelated": 1, "USER_ID": None}
    )
    assert overrides == {"database_url": "sqlite:///x.db", "openai_api_key": "sk-1"}
    settings = load_settings(**overrides)
    assert settings.database_url == "sqlite:///x.db"
    assert not settings.uses_demo_model


def test_escape_markdown_keeps_text_literal():
    assert escape_markdown("**bold** <b>x</b> :red[hi]") == r"\*\*bold\*\* \<b\>x\</b\> \:red\[hi\]"
    assert escape_markdown("plain words") == "plain words"


def test_a_link_keeps_each_valid_part_and_reports_every_bad_one():
    both_bad = identity_from_link("a\tb\x00", "x" * 300, default_user="anonymous")
    assert (both_bad.user_id, both_bad.team_session) == (None, None)
    assert [error.split(":")[0] for error in both_bad.errors] == [
        "The link's ?user= was not used",
        "The link's ?team= was not used",
    ]
    assert "recorded as 'anonymous'" in both_bad.errors[0]
    one_bad = identity_from_link("  Ada  ", "x" * 300, default_user="anonymous")
    assert (one_bad.user_id, one_bad.team_session, len(one_bad.errors)) == ("Ada", None, 1)
    good = identity_from_link("Ada", "june", default_user="anonymous")
    assert (good.user_id, good.team_session, good.errors) == ("Ada", "june", ())
    assert identity_from_link(None, None, default_user="x") == identity_from_link("", " ", default_user="x")


def test_voting_again_replaces_the_comment_so_the_rule_sends_it_again(sqlite_url):
    bilan = Bilan(load_settings(database_url=sqlite_url))
    engine = bilan.backend.engine
    prompt_id = add_turn(engine, user_id=bilan.user_id)
    bilan.vote(prompt_id, 1, "kept?")
    assert bilan.vote(prompt_id, -1).comment is None  # the library replaces the whole vote, as documented
    bilan.vote(prompt_id, 1, "Clear")
    flipped = change_vote(bilan, prompt_id, 0, stored_comment="Clear")
    assert (flipped.vote, flipped.comment, flipped.draft) == (-1, "Clear", "Clear")
    assert bilan.get_prompt_stats(prompt_id).comments[0].comment == "Clear"
    redrafted = change_vote(bilan, prompt_id, 1, stored_comment="Clear", draft="Clearer")
    assert (redrafted.vote, redrafted.comment) == (1, "Clearer")
    cleared = change_vote(bilan, prompt_id, None, stored_comment="Clearer")
    assert (cleared.vote, cleared.comment, cleared.draft) == (None, None, "Clearer")
    assert bilan.get_prompt_stats(prompt_id).total_votes == 0
    with pytest.raises(ValueError):
        change_vote(bilan, prompt_id, 5)
    assert bilan.get_prompt_stats(prompt_id).total_votes == 0
    bilan.close()


def test_a_draft_wins_over_the_stored_comment_unless_it_is_blank():
    assert comment_for_vote("new", "old") == "new"
    assert comment_for_vote("  ", "old") == "old"
    assert comment_for_vote(None, None) is None


def test_conversation_list_times_and_titles():
    now = int(datetime(2026, 11, 18, 9, 46, 40, tzinfo=UTC).timestamp() * 1000)
    assert activity_time(now - 60_000, now) == "today 09:45"
    assert activity_time(now - 86_400_000, now) == "yesterday 09:46"
    assert activity_time(now - 5 * 86_400_000, now) == "Nov 13 09:46"
    assert activity_time(now - 400 * 86_400_000, now) == "2025-10-14"
    assert short_title(None) == "Untitled"
    assert short_title("a\n  b") == "a b"
    long = short_title("What is the capital of Australia, and why?")
    assert len(long) == 28 and long.endswith("…")


def test_telemetry_says_why_it_is_off():
    assert telemetry_state(load_settings(telemetry=False)) == "off (BILAN_TELEMETRY is off)"
    no_endpoint = telemetry_state(load_settings(telemetry=True))
    assert no_endpoint.startswith("off: BILAN_TELEMETRY is on, but no BILAN_TELEMETRY_ENDPOINT is set")
    vetoed = load_settings(telemetry=True, telemetry_endpoint="https://t.example", do_not_track=True)
    assert telemetry_state(vetoed) == "off (DO_NOT_TRACK is set)"
    sending = load_settings(telemetry=True, telemetry_endpoint="https://t.example/c?token=secret")
    assert telemetry_state(sending) == "on: anonymous counts go to https://t.example/c?token=***"


def test_schema_state_says_whether_it_is_up_to_date():
    assert schema_state("0006") == "0006 (up to date)"
    old = schema_state("0005 (newest known: 0006)")
    assert old.endswith("out of date, run `python -m bilan_core migrate`")
    assert "migrate" in schema_state("empty database (not migrated)")


def test_the_summary_shows_the_models_offered_else_the_fallback_list():
    settings = load_settings(models="m1,m2")
    assert {row.label: row.value for row in summary_rows(settings)}["Models offered"] == "m1, m2"
    offered = summary_rows(settings, ["gpt-4o", "Auto (picked by trust score)"])
    shown = {row.label: row.value for row in offered}["Models offered"]
    assert shown == "gpt-4o, Auto (picked by trust score)"
