"""Redaction: the labelled corpus meets the targets per kind, placeholders, user patterns, bad patterns."""

from __future__ import annotations

import pytest

from bilan_core.errors import ConfigurationError
from bilan_core.privacy.redaction import BUILT_IN_KINDS, Redactor, parse_user_patterns
from bilan_core.settings import load_settings
from tests.privacy.corpus_scores import load_corpus, score


def test_every_kind_meets_the_recall_and_precision_targets_on_the_corpus():
    corpus = load_corpus()
    assert sum(1 for row in corpus if not row["spans"]) >= 60  # near-misses: order numbers, dates, versions…
    scores = score(Redactor(), corpus)
    for kind in BUILT_IN_KINDS:
        assert scores[kind].found + scores[kind].missed >= 25, kind
        assert scores[kind].recall >= 0.98, scores[kind]
        assert scores[kind].precision >= 0.95, scores[kind]


def test_redact_replaces_each_piece_with_its_typed_placeholder():
    text = "Mail jane@example.com, card 4111 1111 1111 1111, Bearer abcdefghijklmnop1234 from 10.0.0.1"
    assert Redactor().redact(text) == "Mail [EMAIL], card [CARD], Bearer [SECRET] from [IP]"
    assert Redactor().redact("order 4111 1111 1111 1112 on 2024-03-15, v1.2.3") == (
        "order 4111 1111 1111 1112 on 2024-03-15, v1.2.3"  # fails Luhn: an order number, kept
    )


def test_user_patterns_have_their_own_placeholders():
    redactor = Redactor(parse_user_patterns('{"ORDER_ID": "ORD-\\\\d{6}"}'))
    assert redactor.redact("ORD-123456 for jane@example.com") == "[ORDER_ID] for [EMAIL]"
    unnamed = Redactor(parse_user_patterns(["ACME-\\d+", "TICKET-\\d+"]))
    assert unnamed.redact("ACME-1 TICKET-2") == "[REDACTED] [REDACTED]"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("(unclosed", "is not a valid regular expression"),
        ("x*", "matches the empty string"),
        ('["ok-\\\\d+", "|"]', "matches the empty string"),
        ('{"lower": "x+"}', "must be 1 to 30 capitals"),
        ('{"X": ""}', "must be a non-empty regular expression"),
        ('{"X": "a"', "not valid JSON"),
    ],
)
def test_a_bad_pattern_is_refused_at_start_up(monkeypatch, value, message):
    monkeypatch.setenv("BILAN_REDACT_PATTERNS", value)
    with pytest.raises(ConfigurationError, match="BILAN_REDACT_PATTERNS") as refused:
        load_settings()
    assert message in str(refused.value)


def test_an_unknown_capture_level_or_short_key_is_refused_at_start_up(monkeypatch):
    with pytest.raises(ConfigurationError, match="unknown capture level 'most'"):
        load_settings(capture="most")
    monkeypatch.setenv("BILAN_CAPTURE_KEY", "short")
    with pytest.raises(ConfigurationError, match=r"BILAN_CAPTURE_KEY: .*at least 16") as refused:
        load_settings()
    assert "short" not in str(refused.value)  # a secret is never repeated
