"""What the comments say: the phrases that set 👎 comments apart from 👍 ones, per model.

Class-based TF-IDF (as in BERTopic, with scikit-learn and no model to download): each (model, 👍 or
👎) is one class; a phrase (1–3 words that neither start nor end with an English stop word, so
"refused to answer" and "too long" stay whole) scores by its share of a class's phrases times
``log(1 + average class size / its count in every class)``. A model's themes are its 👎 class's best
phrases that occur in a larger share of its 👎 comments than of its 👍 ones, each with its count and
a few quotes (the comment and its prompt id, to link back to the answer). Non-English text is
tokenised by Unicode word characters; only the stop words are English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from bilan_core.analytics.comments import CommentsPage

MIN_NEGATIVE_COMMENTS = 5
MIN_PHRASE_COMMENTS = 2
MAX_THEMES = 5
MAX_QUOTES = 3
CANDIDATES = 200
SAME_COMMENTS = 0.8
ALL_MODELS = "all models"
MAX_WORDS = 3
DEFAULT_COMMENT_LIMIT = 2000
MAX_COMMENT_LIMIT = 20_000
PAGE_SIZE = 500
WORD = re.compile(r"(?u)\b\w\w+\b")
# Stop words that change what a complaint means: kept at the start of a phrase ("too long", "not clear").
MEANINGFUL = frozenset({"not", "no", "never", "too", "nothing", "cannot", "without", "very", "less", "more"})
# Auxiliaries and fillers scikit-learn's list lacks (or that contractions leave behind: "doesn't" → "doesn").
EXTRA_STOP_WORDS = frozenset(
    {"does", "did", "doesn", "didn", "don", "isn", "wasn", "just", "really", "ll", "ve"}
)


@dataclass(frozen=True)
class Quote:
    """One comment quoted for a theme, with the prompt id (and conversation) of the answer it is about."""

    comment: str
    prompt_id: str | None
    conversation_id: str | None = None


@dataclass(frozen=True)
class Theme:
    """A phrase that sets a model's 👎 comments apart, how many carry it, and a few of them."""

    model: str
    phrase: str
    count: int
    negative_comments: int
    positive_count: int
    score: float
    quotes: tuple[Quote, ...]


@dataclass(frozen=True)
class CommentThemes:
    """The themes of a set of comments, per model, and notes on what could not be grouped."""

    themes: tuple[Theme, ...]
    comments: int
    negative_comments: int
    notes: tuple[str, ...]

    def frame(self) -> pd.DataFrame:
        """One row per theme: model, phrase, count, 👎 comments, 👍 count, score and the quotes."""
        return pd.DataFrame(
            [
                {
                    "model": theme.model,
                    "phrase": theme.phrase,
                    "count": theme.count,
                    "negative_comments": theme.negative_comments,
                    "positive_count": theme.positive_count,
                    "score": theme.score,
                    "quotes": " | ".join(quote.comment for quote in theme.quotes),
                    "prompt_ids": " ".join(quote.prompt_id or "" for quote in theme.quotes).strip(),
                }
                for theme in self.themes
            ],
            columns=[
                "model",
                "phrase",
                "count",
                "negative_comments",
                "positive_count",
                "score",
                "quotes",
                "prompt_ids",
            ],
        )


def comment_themes(
    comments: pd.DataFrame, *, per_model: bool = True, max_themes: int = MAX_THEMES
) -> CommentThemes:
    """Themes of ``comments`` (``comment``, ``value`` > 0 for 👍; optional ``model``, ``prompt_id`` …)."""
    missing = {"comment", "value"} - set(comments.columns)
    if missing:
        raise ValueError(f"comments need the column(s) {', '.join(sorted(missing))}")
    if max_themes < 1:
        raise ValueError(f"max_themes must be at least 1, got {max_themes}")
    rows = _usable(comments, per_model)
    negative = int(rows["negative"].sum())
    if not negative:
        return CommentThemes((), len(rows), 0, ("no 👎 comments to group into themes",))
    found = _phrases(rows["comment"])
    if found is None:
        return CommentThemes((), len(rows), negative, ("the comments share no phrase to group them by",))
    matrix, phrases = found
    themes: list[Theme] = []
    notes: list[str] = []
    scores = _class_scores(rows, matrix)
    for model in sorted(set(rows["model"])):
        in_model = (rows["model"] == model).to_numpy()
        negatives = int((in_model & rows["negative"].to_numpy()).sum())
        if negatives < MIN_NEGATIVE_COMMENTS:
            notes.append(
                f"too few 👎 comments for {model} to find themes ({negatives}; at least "
                f"{MIN_NEGATIVE_COMMENTS} are needed)"
            )
            continue
        picked = _model_themes(rows, matrix, phrases, scores[model], in_model, max_themes)
        if not picked:
            notes.append(f"no phrase recurs in {model}'s 👎 comments more than in its 👍 ones")
        themes.extend(picked)
    return CommentThemes(tuple(themes), len(rows), negative, tuple(notes))


def _usable(comments: pd.DataFrame, per_model: bool) -> pd.DataFrame:
    text = comments["comment"].where(comments["comment"].map(lambda value: isinstance(value, str)))
    kept = comments[text.fillna("").str.strip().ne("") & comments["value"].notna()]
    models = kept["model"].fillna("(no model)").astype(str) if per_model and "model" in kept else ALL_MODELS
    return pd.DataFrame(
        {
            "comment": kept["comment"].astype(str).str.strip(),
            "negative": kept["value"].astype(float) <= 0,
            "model": models,
            "prompt_id": kept.get("prompt_id"),
            "conversation_id": kept.get("conversation_id"),
        }
    ).reset_index(drop=True)


@cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOP_WORDS


def phrases_of(text: str) -> list[str]:
    """The 1–3-word phrases of ``text`` that neither start nor end with a stop word (lower case)."""
    stop_words = _stop_words()
    words = WORD.findall(text.lower())
    found = []
    for size in range(1, MAX_WORDS + 1):
        for start in range(len(words) - size + 1):
            gram = words[start : start + size]
            if gram[-1] in stop_words or (gram[0] in stop_words and gram[0] not in MEANINGFUL):
                continue
            found.append(" ".join(gram))
    return found


def _phrases(texts: pd.Series) -> tuple[object, np.ndarray] | None:
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        analyzer=phrases_of, binary=True, min_df=min(MIN_PHRASE_COMMENTS, len(texts))
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words, digits or one-letter words
        return None
    return matrix.tocsc(), vectorizer.get_feature_names_out()


def _class_scores(rows: pd.DataFrame, matrix: object) -> dict[str, dict[bool, np.ndarray]]:
    """c-TF-IDF per (model, 👎?) class: phrase share of the class × log(1 + mean class size / its count)."""
    from scipy import sparse

    keys = list(zip(rows["model"], rows["negative"], strict=True))
    classes = sorted(set(keys))
    index = {key: position for position, key in enumerate(classes)}
    membership = sparse.csr_matrix(
        (np.ones(len(keys)), ([index[key] for key in keys], np.arange(len(keys)))),
        shape=(len(classes), len(keys)),
    )
    per_class = np.asarray((membership @ matrix).todense(), dtype=float)
    sizes = per_class.sum(axis=1, keepdims=True)
    idf = np.log(1.0 + sizes.mean() / np.maximum(per_class.sum(axis=0), 1.0))
    scores = per_class / np.maximum(sizes, 1.0) * idf
    table: dict[str, dict[bool, np.ndarray]] = {}
    for (model, negative), position in index.items():
        table.setdefault(model, {})[negative] = scores[position]
    return table


def _model_themes(
    rows: pd.DataFrame,
    matrix: object,
    phrases: np.ndarray,
    scores: dict[bool, np.ndarray],
    in_model: np.ndarray,
    max_themes: int,
) -> list[Theme]:
    negative_rows = np.flatnonzero(in_model & rows["negative"].to_numpy())
    positive_rows = np.flatnonzero(in_model & ~rows["negative"].to_numpy())
    negative_counts = np.asarray(matrix[negative_rows].sum(axis=0)).ravel()  # type: ignore[index]
    positive_counts = np.asarray(matrix[positive_rows].sum(axis=0)).ravel()  # type: ignore[index]
    sets_apart = negative_counts / len(negative_rows) > positive_counts / max(len(positive_rows), 1)
    eligible = np.flatnonzero((negative_counts >= MIN_PHRASE_COMMENTS) & sets_apart)
    ranked = eligible[np.argsort(-scores[True][eligible], kind="stable")][:CANDIDATES]
    chosen: list[int] = []
    covered: list[set[int]] = []
    for term in ranked:
        carriers = _carriers(matrix, negative_rows, int(term))
        group = next(
            (number for number, earlier in enumerate(covered) if _same_comments(carriers, earlier)), None
        )
        if group is None and len(chosen) < max_themes:
            chosen.append(int(term))
            covered.append(carriers)
        elif group is not None and _says_more(int(term), chosen[group], phrases, negative_counts):
            chosen[group] = int(term)
    return [
        Theme(
            model=str(rows["model"].iloc[negative_rows[0]]),
            phrase=str(phrases[term]),
            count=int(negative_counts[term]),
            negative_comments=len(negative_rows),
            positive_count=int(positive_counts[term]),
            score=float(scores[True][term]),
            quotes=_quotes(rows, sorted(_carriers(matrix, negative_rows, term))),
        )
        for term in chosen
    ]


def _carriers(matrix: object, rows: np.ndarray, term: int) -> set[int]:
    """The positions (among all comments) of ``rows`` whose comment carries phrase ``term``."""
    return set(rows[matrix[rows, term].nonzero()[0]].tolist())  # type: ignore[index]


def _says_more(term: int, current: int, phrases: np.ndarray, counts: np.ndarray) -> bool:
    """True when ``term`` is a longer phrase than ``current`` carried by nearly as many comments."""
    longer = len(str(phrases[term]).split()) > len(str(phrases[current]).split())
    return longer and counts[term] >= SAME_COMMENTS * counts[current]


def _same_comments(first: set[int], second: set[int]) -> bool:
    return len(first & second) >= SAME_COMMENTS * min(len(first), len(second))


def _quotes(rows: pd.DataFrame, carriers: list[int]) -> tuple[Quote, ...]:
    quotes: list[Quote] = []
    seen: set[str] = set()
    texts, prompt_ids = rows["comment"].to_numpy(), rows["prompt_id"].to_numpy()
    conversations = rows["conversation_id"].to_numpy()
    for position in carriers:
        text = str(texts[position])
        if text in seen:
            continue
        seen.add(text)
        quotes.append(
            Quote(
                comment=text,
                prompt_id=_text_or_none(prompt_ids[position]),
                conversation_id=_text_or_none(conversations[position]),
            )
        )
        if len(quotes) == MAX_QUOTES:
            break
    return tuple(quotes)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def newest_comments(
    read_page: Callable[[int, int], CommentsPage], limit: int = DEFAULT_COMMENT_LIMIT
) -> pd.DataFrame:
    """Up to ``limit`` comments, newest first, read by ``read_page(page, page_size)``."""
    if type(limit) is not int or not 1 <= limit <= MAX_COMMENT_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_COMMENT_LIMIT}, got {limit!r}")
    frames = []
    page = 1
    while True:
        found = read_page(page, min(PAGE_SIZE, limit))
        frames.append(found.rows)
        if page >= found.pages or sum(len(frame) for frame in frames) >= limit:
            break
        page += 1
    return pd.concat(frames, ignore_index=True).head(limit)
