"""Redaction: recall and precision per kind on the labelled corpus, and what redacting costs per KB.

The corpus (``tests/privacy/redaction_corpus.jsonl``) holds texts with every piece a redactor must
hide (kind and exact text) and near-misses that must stay (order numbers, dates, versions,
timestamps, ids, hashes). The cost is measured on three texts of about 20 KB: chat prose with no
personal data (the common case), the same prose with a piece of personal data every ~250 characters,
and the corpus itself; then a turn's columns at ``sanitized`` against ``full`` (the client's work
before it stores a turn).

Run: ``python3 -m bench.redaction`` (a few seconds). Targets (issue 14): recall >= 0.98 and
precision >= 0.95 for every kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bilan_core.privacy.capture import CapturePolicy
from bilan_core.privacy.redaction import Redactor
from tests.privacy.corpus_scores import load_corpus, score

TARGET_RECALL, TARGET_PRECISION = 0.98, 0.95
PROSE = (
    "Thanks for the quick answer! I tried the second option on version 2.4.1 and it worked, but the "
    "report from 2024-03-15 still shows 1,204 rows instead of 1,250. Could you explain step 3 again, "
    "and why the total is 17.5% lower than last week? Order 88123 and ticket #4412 are related. "
)
PII = (
    "Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, "
    "IBAN DE89 3704 0044 0532 0130 00, from 203.0.113.45 with key sk-proj-abcdefghijklmnopqrstuvwxyz012345. "
)


def per_kb_ms(work: Callable[[], object], size_bytes: int, *, seconds: float = 1.0) -> float:
    """Milliseconds per KB of text, best of repeated runs within ``seconds``."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1000 / (size_bytes / 1024)


def main() -> None:
    """Print the scores per kind, then the costs."""
    redactor = Redactor()
    corpus = load_corpus()
    positives = sum(1 for row in corpus if row["spans"])
    near_misses = len(corpus) - positives
    print(f"corpus: {len(corpus)} texts; {positives} with personal data, {near_misses} near-misses")
    print(
        f"{'kind':8} {'expected':>8} {'found':>6} {'missed':>6} {'wrong':>6} {'recall':>7} {'precision':>9}"
    )
    for one in score(redactor, corpus).values():
        ok = one.recall >= TARGET_RECALL and one.precision >= TARGET_PRECISION
        print(
            f"{one.kind:8} {one.found + one.missed:8} {one.found:6} {one.missed:6} {one.wrong:6} "
            f"{one.recall:7.3f} {one.precision:9.3f}  {'ok' if ok else 'BELOW TARGET'}"
        )
    plain = PROSE * 70
    dense = (PROSE + PII) * 45
    joined = "\n".join(row["text"] for row in corpus)
    print("\ncost of redact() per KB (best of 1 s of runs):")
    costs = {}
    for name, text in (("plain prose", plain), ("prose + personal data", dense), ("the corpus", joined)):
        size = len(text.encode("utf-8"))
        costs[name] = per_kb_ms(lambda text=text: redactor.redact(text), size)
        print(f"  {name:24} {size / 1024:6.1f} KB  {costs[name]:7.3f} ms/KB")
    print(f"  ratio dense / plain: {costs['prose + personal data'] / costs['plain prose']:.1f}x")
    turn = {"user_id": "alice", "prompt_text": PROSE * 4 + PII, "response": PROSE * 8, "messages": None}
    size = len((turn["prompt_text"] + turn["response"]).encode("utf-8"))
    policies = {
        level: CapturePolicy.build(level, patterns={}, key="k" * 32, data_dir=Path("."))
        for level in ("full", "sanitized")
    }
    full = per_kb_ms(lambda: policies["full"].turn_fields(turn), size) * size / 1024
    sanitized = per_kb_ms(lambda: policies["sanitized"].turn_fields(turn), size) * size / 1024
    print(
        f"\na {size / 1024:.1f} KB turn before storage: full {full:.3f} ms, sanitized {sanitized:.3f} ms "
        f"({sanitized / full:.0f}x)"
    )


if __name__ == "__main__":
    main()
