"""The review pages' rules without Streamlit: the card's input, the links, the create form's fields."""

from __future__ import annotations

import pytest

from bilan_core.app.review_view import (
    CardInput,
    choice_words,
    criteria_from_text,
    raters_per_item_from_input,
    recent_filter,
    review_link,
    shared_link,
    stored_choice,
)
from bilan_core.store.review_models import ReviewRating


def rating(**fields) -> ReviewRating:
    return ReviewRating(session_id="s", item_id=1, rater="ann", complete=True, **fields)


def test_a_card_input_drops_unset_scores_and_a_blank_comment() -> None:
    entered = CardInput.from_form(1, {"accuracy": 4, "tone": None}, "   ")
    assert (entered.choice, dict(entered.scores), entered.comment) == (1, {"accuracy": 4}, None)
    assert entered.complete and not entered.empty
    assert CardInput.from_form(None, {"tone": None}, "").empty


def test_a_card_input_knows_when_it_says_what_is_stored() -> None:
    stored = rating(vote=1, scores={"accuracy": 4}, comment="good")
    assert CardInput(1, {"accuracy": 4}, "good").same_as(stored, pairwise=False)
    assert not CardInput(-1, {"accuracy": 4}, "good").same_as(stored, pairwise=False)
    assert not CardInput(1, {"accuracy": 4}, "better").same_as(stored, pairwise=False)
    assert CardInput().same_as(None, pairwise=False) and not CardInput(1).same_as(None, pairwise=False)
    verdict = rating(winner="tie")
    assert CardInput("tie").same_as(verdict, pairwise=True) and stored_choice(verdict, True) == "tie"


def test_the_rate_arguments_and_the_toast_follow_the_rubric() -> None:
    entered = CardInput(-1, {"tone": 2}, "too long")
    expected = {"vote": -1, "scores": {"tone": 2}, "comment": "too long"}
    assert entered.rate_arguments(pairwise=False) == expected
    assert entered.saved_message(pairwise=False) == "Saved: 👎 Bad."
    draft = entered.as_draft()
    assert draft.rate_arguments(pairwise=False)["vote"] is None and draft.comment == "too long"
    assert draft.saved_message(pairwise=False) == "Kept as a draft: choose 👍 Good or 👎 Bad to count it."
    assert CardInput("b").rate_arguments(pairwise=True)["winner"] == "b"
    assert CardInput().saved_message(pairwise=True) == "Kept as a draft: choose a verdict to count it."
    assert choice_words("both_bad", True) == "Both bad" and choice_words(None, False) == "not rated"


def test_links_carry_the_session_and_the_view() -> None:
    assert review_link("abc") == "?review=abc"
    assert review_link("abc", board=True) == "?review=abc&board=1"
    assert review_link("a&b", report=True) == "?review=a%26b&report=1"
    assert shared_link("http://host:8501/review?review=abc&board=1", "abc") == "http://host:8501/?review=abc"
    assert shared_link("http://host:8501/?review=abc&board=1", "abc") == "http://host:8501/?review=abc"
    assert shared_link("https://x.org/bilan/review", "abc") == "https://x.org/bilan/?review=abc"
    assert shared_link(None, "abc") == "?review=abc"


def test_the_create_forms_fields() -> None:
    assert criteria_from_text(" accuracy, tone ,, ") == ("accuracy", "tone")
    assert criteria_from_text(None) == ()
    assert raters_per_item_from_input(0) is None and raters_per_item_from_input(3) == 3
    where = recent_filter(7, ("m-one",), at_ms=10 * 86_400_000)
    assert (where.start_ms, where.end_ms, where.models) == (3 * 86_400_000, None, ("m-one",))
    with pytest.raises(ValueError, match="days must be a whole number from 1"):
        recent_filter(0)
