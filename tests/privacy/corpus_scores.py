"""The redactor on the labelled corpus: recall and precision per kind (for the test and the benchmark)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bilan_core.privacy.redaction import BUILT_IN_KINDS, Redactor

CORPUS = Path(__file__).with_name("redaction_corpus.jsonl")


@dataclass(frozen=True)
class Score:
    """One kind's counts: expected pieces found, expected pieces missed, findings that were not expected."""

    kind: str
    found: int
    missed: int
    wrong: int

    @property
    def recall(self) -> float:
        """Found over expected (1.0 when nothing was expected)."""
        return self.found / (self.found + self.missed) if self.found + self.missed else 1.0

    @property
    def precision(self) -> float:
        """Right findings over all findings (1.0 when nothing was found)."""
        return self.found / (self.found + self.wrong) if self.found + self.wrong else 1.0


def load_corpus() -> list[dict]:
    """The labelled texts, each with the pieces (kind, exact text) to find; none for a near-miss."""
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(redactor: Redactor, corpus: list[dict]) -> dict[str, Score]:
    """Per kind: a finding counts when its kind and exact text match an expected piece of its text."""
    found: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for row in corpus:
        expected = Counter((span["kind"], span["value"]) for span in row["spans"])
        got = Counter((one.kind, row["text"][one.start : one.end]) for one in redactor.find(row["text"]))
        for (kind, _), count in (expected & got).items():
            found[kind] += count
        for (kind, _), count in (expected - got).items():
            missed[kind] += count
        for (kind, _), count in (got - expected).items():
            wrong[kind] += count
    return {kind: Score(kind, found[kind], missed[kind], wrong[kind]) for kind in BUILT_IN_KINDS}


def misses(redactor: Redactor, corpus: list[dict]) -> list[str]:
    """Each text whose findings differ from its labels, with both (for a failing test's message)."""
    out = []
    for row in corpus:
        expected = sorted((span["kind"], span["value"]) for span in row["spans"])
        got = sorted((one.kind, row["text"][one.start : one.end]) for one in redactor.find(row["text"]))
        if expected != got:
            out.append(f"{row['text']!r}: expected {expected}, found {got}")
    return out
