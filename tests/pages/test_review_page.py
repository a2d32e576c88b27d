"""The Reviews page in AppTest: joining by link, rating, changing a rating, Skip, Back, a draft comment kept,
a closed session, a bad link, the facilitator's board with Close, the report, and creating a session."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.app_support import APP_PATH, clear_app_caches
from tests.helpers import server_client
from tests.reviews.review_support import answered_experiment, record_turns

RATER_NAME_KEY = "review_rater_name"


@pytest.fixture
def lead(sqlite_url, monkeypatch):
    """The app on a fresh SQLite file, and the facilitator's client on the same file."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    clear_app_caches()
    client = Bilan(load_settings(database_url=sqlite_url, user_id="lead", telemetry=False))
    yield client
    client.close()
    clear_app_caches()


def open_app(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def joined(session_id: str, name: str = "ann") -> AppTest:
    """The rater's page after typing the name once."""
    at = open_app(review=session_id)
    assert not at.exception, [e.value for e in at.exception]
    at.text_input(key=RATER_NAME_KEY).input(name)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(one for one in at.button if one.label == label)


def card_radio(at: AppTest):
    return next(one for one in at.radio if one.label in ("Your rating", "Your verdict"))


def plain(markdown: str) -> str:
    """Escaped markdown as the visitor reads it."""
    return markdown.replace("\\", "")


def texts(at: AppTest) -> list[str]:
    return [one.value for one in at.text]


def rate_all(session, first_votes: dict[str, tuple[int, str]]) -> None:
    """Each rater rates every item handed to them: the first with their vote and comment, the rest 👍."""
    for rater, (vote, comment) in first_votes.items():
        session.join(rater)
        first = True
        while (view := session.next_item(rater)) is not None:
            session.rate(view.item_id, rater, vote=vote if first else 1, comment=comment if first else None)
            first = False


def session_of(lead: Bilan, count: int = 3, **options):
    prompt_ids = record_turns(lead, count)
    return lead.create_review_session("friday <b>review</b>", prompt_ids=prompt_ids, **options)


def test_join_by_link_rate_and_see_the_next_card(lead) -> None:
    session = session_of(lead, criteria=["accuracy"], instructions="Judge *facts* only")
    at = open_app(review=session.id)
    assert at.title[0].value == "friday \\<b\\>review\\</b\\>"  # user text escaped, never HTML
    assert "Type your name to join" in at.markdown[0].value and not at.radio
    at = joined(session.id)
    assert at.session_state["identity_user_id"] == "ann"
    assert "0 of 3 rated by you" in at.caption[1].value
    assert at.info[0].value == "Judge \\*facts\\* only"
    assert "question 0" in texts(at) and "answer 0" in texts(at)
    assert card_radio(at).options == ["👍 Good", "👎 Bad"] and card_radio(at).value is None
    assert "m-one" not in str(at.caption), "a blind session hides the model while open"

    card_radio(at).set_value(1)
    at.radio(key=next(r.key for r in at.radio if r.label.startswith("accuracy"))).set_value(4)
    at.text_area[0].input("clear and right")
    button(at, "Save and next").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [toast.value for toast in at.toast] == ["Saved: 👍 Good."]
    assert "1 of 3 rated by you" in at.caption[1].value and "question 1" in texts(at)
    ratings = session.ratings()
    assert ratings[["rater", "vote", "accuracy", "comment"]].values.tolist() == [
        ["ann", 1, 4, "clear and right"]
    ]


def test_save_without_a_rating_asks_for_one(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    button(at, "Save and next").click().run()
    assert plain(at.error[0].value) == "Choose 👍 Good or 👎 Bad first, or Skip this item."
    assert "question 0" in texts(at) and session.ratings().empty


def test_back_shows_the_rating_pre_filled_and_it_can_be_changed(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    card_radio(at).set_value(1)
    at.text_area[0].input("good")
    button(at, "Save and next").click().run()
    assert button(at, "Back").disabled is False
    button(at, "Back").click().run()
    assert "question 0" in texts(at)
    assert card_radio(at).value == 1 and at.text_area[0].value == "good"
    assert button(at, "Skip").disabled, "a rated item cannot be skipped"
    card_radio(at).set_value(-1)
    at.text_area[0].input("wrong year after all")
    button(at, "Save and next").click().run()
    assert [toast.value for toast in at.toast] == ["Saved: 👎 Bad."]
    assert "question 1" in texts(at), "Save after Back goes forward to the item that came next"
    assert session.ratings()[["vote", "comment"]].values.tolist() == [[-1, "wrong year after all"]]
    assert lead.get_stats(team_session=session.name).negative_votes == 1


def test_skip_passes_the_item_on_and_keeps_a_typed_comment(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    at.text_area[0].input("not sure about this one")
    button(at, "Skip").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [toast.value for toast in at.toast] == [
        "Skipped: it goes to someone else. Your comment is kept as a draft."
    ]
    assert "question 1" in texts(at)
    (progress,) = session.progress()
    assert (progress.rated, progress.skipped, progress.drafts) == (0, 1, 1)


def test_a_comment_without_a_vote_is_kept_as_a_draft_and_shown_again(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    at.text_area[0].input("the second paragraph repeats itself")
    button(at, "Save and next").click().run()
    assert [toast.value for toast in at.toast] == ["Kept as a draft: choose 👍 Good or 👎 Bad to count it."]
    assert "question 0" in texts(at), "a draft stays on its card"
    assert any("kept as a draft" in caption.value for caption in at.caption)
    assert session.progress()[0].drafts == 1 and session.ratings().empty

    again = open_app(review=session.id, user="ann")  # a new visit, the name from the link
    assert again.text_area[0].value == "the second paragraph repeats itself"
    card_radio(again).set_value(-1)
    button(again, "Save and next").click().run()
    stored = session.ratings()[["vote", "comment"]].values.tolist()
    assert stored == [[-1, "the second paragraph repeats itself"]]


def test_nothing_left_says_so_and_back_returns_to_the_last_item(lead) -> None:
    session = session_of(lead, count=1)
    at = joined(session.id)
    card_radio(at).set_value(1)
    button(at, "Save and next").click().run()
    assert "Nothing left for you: you rated 1 item. Thank you!" in at.success[0].value
    button(at, "Back to your last item").click().run()
    assert card_radio(at).value == 1


def test_a_pairwise_card_shows_a_and_b_and_takes_a_verdict(lead) -> None:
    run_id = answered_experiment(lead, items=2)
    session = lead.create_review_session("pairs", run_id=run_id, pairwise=True, blind=False)
    at = joined(session.id)
    assert card_radio(at).options == ["A is better", "B is better", "Tie", "Both bad"]
    assert {"Answer A", "Answer B"} <= {md.value.strip("*") for md in at.markdown}
    assert any("short" in caption.value or "long" in caption.value for caption in at.caption), (
        "a session that is not blind names the variants"
    )
    card_radio(at).set_value("tie")
    button(at, "Save and next").click().run()
    assert [toast.value for toast in at.toast] == ["Saved: Tie."]
    assert session.ratings()["winner"].tolist() == ["tie"]


def test_a_closed_session_says_so_and_links_the_report(lead) -> None:
    session = session_of(lead)
    session.close()
    at = open_app(review=session.id)
    assert "This session is closed" in at.info[0].value and not at.radio
    link = at.get("page_link")[0]
    assert link.proto.label == "Read the report" and "report=1" in link.proto.query_string


def test_rating_after_the_session_closed_says_so(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    lead.get_review_session(session.id).close()
    card_radio(at).set_value(1)
    button(at, "Save and next").click().run()
    assert not at.exception
    assert "closed" in at.info[0].value or any("closed" in error.value for error in at.error)


@pytest.mark.parametrize("bad", ["no-such-session", "x" * 300])
def test_a_bad_link_gives_a_clear_message(lead, bad) -> None:
    at = open_app(review=bad)
    assert not at.exception, [e.value for e in at.exception]
    assert at.error[0].value.startswith("This link opens no review session")


def test_the_board_shows_progress_results_disputes_and_comments_then_closes(lead) -> None:
    session = session_of(lead, count=2, raters_per_item=2, blind=True)
    rate_all(session, {"ann": (1, "fine"), "bob": (-1, "wrong year")})
    at = open_app(review=session.id, board="1")
    assert not at.exception, [e.value for e in at.exception]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Ratings"] == "4 of 4" and metrics["Items rated"] == "2 of 2" and metrics["Raters"] == "2"
    raters = at.dataframe[0].value
    assert sorted(raters["rater"]) == ["ann", "bob"] and raters["rated"].tolist() == [2, 2]
    results = at.dataframe[1].value
    assert results["variant"].tolist() == ["m-two", "m-one"] and results["ratings"].tolist() == [2, 2]
    assert "ann (👍 up): fine" in texts(at) and "bob (👎 down): wrong year" in texts(at)
    assert any(text.startswith("bob on item") and "wrong year" in text for text in texts(at))
    assert any("?review=" + session.id in code.value for code in at.code)
    assert at.dataframe[2].value["measure"].tolist() == ["vote"], "agreement in detail"
    assert sorted(at.dataframe[3].value["rater"]) == ["ann", "bob"]

    button(at, "Close session…").click().run()
    assert "Close the session?" in at.warning[0].value and session.refresh().status == "open"
    button(at, "Cancel").click().run()
    assert session.refresh().status == "open"
    button(at, "Close session…").click().run()
    button(at, "Yes, close it").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert session.refresh().status == "closed"
    assert at.success[0].value == "The session is closed: the report is ready."
    assert "Most disputed items" in [header.value for header in at.subheader], "after close, the report"
    assert [one.proto.label for one in at.get("download_button")] == ["Download Markdown", "Download CSV"]


def test_the_report_page_shows_the_summary_and_offers_downloads(lead) -> None:
    session = session_of(lead, count=2, raters_per_item=2, blind=True)
    rate_all(session, {"ann": (1, "fine"), "bob": (-1, "=cmd|' /C calc'!A0")})
    session.close()
    at = open_app(review=session.id, report="1")
    assert not at.exception, [e.value for e in at.exception]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Items"], metrics["Ratings"], metrics["Raters"]) == ("2", "4", "2")
    downloads = at.get("download_button")
    assert [one.proto.label for one in downloads] == ["Download Markdown", "Download CSV"]
    assert "bob: =cmd|' /C calc'!A0" in texts(at)  # shown as typed, as text
    assert "Most disputed items" in [header.value for header in at.subheader]


def test_the_list_links_each_session_and_the_form_creates_one(lead) -> None:
    record_turns(lead, 4)
    at = open_app()
    at.switch_page("pages/review.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Reviews" and "No review session yet" in at.info[0].value
    at.text_input(key="review_new_name").input("monday review")
    at.text_input(key="review_new_criteria").input("accuracy, tone")
    at.number_input(key="review_new_sample").set_value(3)
    button(at, "Create session").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (info,) = lead.list_review_sessions()
    assert (info.name, info.item_count, info.criteria, info.raters_per_item) == (
        "monday review", 3, ("accuracy", "tone"), 3,
    )  # fmt: skip
    assert at.query_params["review"] == info.id and at.query_params["board"] == "1"
    assert any(metric.label == "Ratings" for metric in at.metric), "creating opens the board"


def test_creating_from_nothing_says_why(lead) -> None:
    at = open_app()
    at.switch_page("pages/review.py").run()
    at.text_input(key="review_new_name").input("empty")
    button(at, "Create session").click().run()
    assert plain(at.error[0].value).startswith("The session was not created: no recorded answer matches")
    assert not lead.list_review_sessions()


def test_another_name_gets_its_own_queue(lead) -> None:
    session = session_of(lead, raters_per_item=1)
    at = joined(session.id)
    assert "question 0" in texts(at)
    at.sidebar.text_input(key="identity_name_input").input("bob").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "question 1" in texts(at), "bob is handed an item of his own, not ann's"
    assert sorted(one.rater for one in session.progress()) == ["ann", "bob"]


@pytest.mark.postgres
def test_the_rater_page_works_in_server_mode(server_project, live_server, monkeypatch) -> None:
    monkeypatch.setenv("BILAN_MODE", "server")
    monkeypatch.setenv("BILAN_API_KEY", server_project.key)
    monkeypatch.setenv("BILAN_ENDPOINT", live_server.url)
    monkeypatch.setenv("BILAN_TELEMETRY", "false")
    clear_app_caches()
    lead = server_client(server_project.key, live_server.url, user_id="lead")
    try:
        session = session_of(lead, count=2)
        at = joined(session.id)
        assert "question 0" in texts(at)
        card_radio(at).set_value(-1)
        at.text_area[0].input("over the server")
        button(at, "Save and next").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert [toast.value for toast in at.toast] == ["Saved: 👎 Bad."]
        stored = session.ratings()[["rater", "vote", "comment"]].values.tolist()
        assert stored == [["ann", -1, "over the server"]]
        board = open_app(review=session.id, board="1")
        assert not board.exception, [e.value for e in board.exception]
        assert {metric.label: metric.value for metric in board.metric}["Ratings"] == "1 of 2"
    finally:
        lead.close()
        clear_app_caches()


def test_the_form_creates_a_pairwise_session_from_an_experiment_run(lead) -> None:
    run_id = answered_experiment(lead, items=2)
    at = open_app()
    at.switch_page("pages/review.py").run()
    at.radio(key="review_new_source").set_value("An experiment run").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="review_new_run").value == run_id
    at.text_input(key="review_new_name").input("variants")
    at.checkbox(key="review_new_pairwise").check()
    at.checkbox(key="review_new_blind").uncheck()
    at.number_input(key="review_new_k").set_value(0)
    at.text_area(key="review_new_text").input("Pick the clearer answer")
    button(at, "Create session").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (info,) = lead.list_review_sessions()
    assert (info.pairwise, info.blind, info.raters_per_item, info.item_count) == (True, False, None, 2)
    assert info.instructions == "Pick the clearer answer" and info.source["run_id"] == run_id


def test_skip_after_choosing_a_rating_drops_the_choice(lead) -> None:
    session = session_of(lead)
    at = joined(session.id)
    card_radio(at).set_value(1)
    button(at, "Skip").click().run()
    assert not at.error and [toast.value for toast in at.toast] == ["Skipped: it goes to someone else."]
    (progress,) = session.progress()
    assert (progress.rated, progress.skipped, progress.drafts) == (0, 1, 0)


def test_results_tables_read_shares_in_percent_and_criteria_to_one_decimal():
    import pandas as pd

    from pages.review_report import results_columns

    results = pd.DataFrame(
        {"variant": ["gpt-4o"], "trust": [0.75], "ci_low": [0.3], "ci_high": [0.95], "mean_accuracy": [3.5]}
    )
    columns = results_columns(results)
    assert set(columns) == {"trust", "ci_low", "ci_high", "mean_accuracy"}
    assert all(columns[name]["type_config"]["format"] == "percent" for name in ("trust", "ci_low", "ci_high"))
    assert columns["mean_accuracy"]["label"] == "accuracy (mean, 1–5)"
    assert results_columns(pd.DataFrame({"variant": ["a"], "rating": [1000.0]})) == {}
