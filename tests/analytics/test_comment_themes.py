"""Comment themes by class-based TF-IDF on a crafted corpus whose distinguishing phrases are known."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from bilan_core.analytics.comment_themes import ALL_MODELS, comment_themes, phrases_of

PRAISE = [
    "great answer, very clear",
    "clear and helpful",
    "helpful example",
    "perfect, thanks",
    "nice and short",
]
GPT_COMPLAINTS = [
    "The answer is too long and rambles",
    "too long, I stopped reading",
    "way too long for a simple question",
    "Too long!",
    "It cited a wrong date",
    "wrong date again",
    "the wrong date, 1987 instead of 1978",
    "useless",
]
LLAMA_COMPLAINTS = [
    "It refused to answer",
    "refused to answer a harmless question",
    "it refused to answer again",
    "slow",
    "bad formatting of the table",
    "bad formatting everywhere",
]


def corpus() -> pd.DataFrame:
    """gpt: 👎 about length and dates; llama: 👎 about refusals and formatting; both praised the same way."""
    rows = [("gpt", -1, text) for text in GPT_COMPLAINTS] + [("llama", -1, text) for text in LLAMA_COMPLAINTS]
    rows += [(model, 1, text) for model in ("gpt", "llama") for text in PRAISE]
    # "answer" is as common in 👍 comments as in 👎 ones: it must not become a theme.
    rows += [("gpt", 1, "a long and thorough answer, with the right date")]
    frame = pd.DataFrame(rows, columns=["model", "value", "comment"])
    frame["prompt_id"] = [f"prompt-{number}" for number in range(len(frame))]
    return frame


def test_the_known_phrases_of_each_model_come_out_with_counts_and_quotes() -> None:
    found = comment_themes(corpus())
    by_model: dict[str, list[str]] = {}
    for theme in found.themes:
        by_model.setdefault(theme.model, []).append(theme.phrase)
    assert by_model["gpt"][:2] == ["too long", "wrong date"]
    assert by_model["llama"][:2] == ["refused to answer", "bad formatting"]
    too_long = found.themes[0]
    assert (too_long.count, too_long.negative_comments, too_long.positive_count) == (4, 8, 0)
    assert [quote.comment for quote in too_long.quotes] == GPT_COMPLAINTS[:3]
    assert [quote.prompt_id for quote in too_long.quotes] == ["prompt-0", "prompt-1", "prompt-2"]
    assert all(theme.phrase != "answer" for theme in found.themes)
    assert (found.comments, found.negative_comments, found.notes) == (25, 14, ())


def test_phrases_keep_inner_stop_words_and_meaningful_starts() -> None:
    phrases = phrases_of("It refused to answer, too long")
    assert "refused to answer" in phrases and "too long" in phrases
    assert "to answer" not in phrases and "it refused" not in phrases and "too" not in phrases


def test_one_group_when_models_are_not_split() -> None:
    found = comment_themes(corpus(), per_model=False, max_themes=3)
    assert {theme.model for theme in found.themes} == {ALL_MODELS}
    assert len(found.themes) == 3
    assert found.themes[0].negative_comments == 14


def test_too_few_comments_are_said_plainly() -> None:
    few = corpus().query("model == 'llama' and value < 0").head(3)
    found = comment_themes(few)
    assert found.themes == ()
    assert found.notes == ("too few 👎 comments for llama to find themes (3; at least 5 are needed)",)
    praise_only = comment_themes(corpus().query("value > 0"))
    assert praise_only.notes == ("no 👎 comments to group into themes",)
    empty = comment_themes(pd.DataFrame({"comment": [None, "  "], "value": [-1, -1]}))
    assert empty.comments == 0 and empty.notes == ("no 👎 comments to group into themes",)


def test_non_english_text_is_grouped_without_failing() -> None:
    texts = [
        "Beaucoup trop long, la réponse",
        "beaucoup trop long",
        "回答が長すぎる",
        "回答が長すぎる",
        "zu lang",
    ]
    found = comment_themes(pd.DataFrame({"comment": texts, "value": -1, "model": "m"}))
    phrases = [theme.phrase for theme in found.themes]
    assert "beaucoup trop long" in phrases and "回答が長すぎる" in phrases
    stop_words_only = comment_themes(
        pd.DataFrame({"comment": ["it is", "it is", "a", "?", "!!"], "value": -1})
    )
    assert stop_words_only.themes == () and stop_words_only.notes


def test_frame_has_one_row_per_theme() -> None:
    frame = comment_themes(corpus()).frame()
    assert list(frame.columns[:3]) == ["model", "phrase", "count"]
    assert frame.loc[0, "prompt_ids"] == "prompt-0 prompt-1 prompt-2"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="column"):
        comment_themes(pd.DataFrame({"comment": ["x"]}))
    with pytest.raises(ValueError, match="max_themes"):
        comment_themes(corpus(), max_themes=0)


def test_ten_thousand_comments_in_a_few_seconds() -> None:
    rng = np.random.default_rng(0)
    texts = GPT_COMPLAINTS + LLAMA_COMPLAINTS + PRAISE
    comments = pd.DataFrame(
        {
            "comment": [f"{texts[number % len(texts)]} {rng.integers(10**6)}" for number in range(10_000)],
            "value": rng.choice([1, -1], 10_000),
            "model": rng.choice(["a", "b", "c", "d"], 10_000),
        }
    )
    started = time.perf_counter()
    found = comment_themes(comments)
    assert time.perf_counter() - started < 5.0
    assert {theme.model for theme in found.themes} == {"a", "b", "c", "d"}
