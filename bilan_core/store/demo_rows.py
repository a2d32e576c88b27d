"""Drawing the demo history's rows, column by column with numpy, one slice of time at a time.

Chunks follow time (each covers the next slice of the period, its conversations in start order), so a
bulk load appends to the time-ordered indexes instead of scattering across them. Rows come out as
tuples in the order of ``TURN_COLUMNS`` / ``VOTE_COLUMNS`` / ``CONVERSATION_COLUMNS``, ready for an
``executemany`` or a ``COPY``; JSON columns are JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from bilan_core.clock import MS_PER_DAY
from bilan_core.store.demo_catalogue import (
    CANCEL_RATE,
    DEMO_MODELS,
    DEMO_USERS,
    ERROR_MESSAGES,
    ERROR_TYPES,
    INCIDENT_DAYS_AGO,
    INCIDENT_MODEL,
    INCIDENT_QUALITY_DROP,
    NEGATIVE_COMMENTS,
    POSITIVE_COMMENTS,
    PROMPT_VERSIONS,
    SYSTEM_PROMPTS,
    TEAM_SESSION_SHARE,
    TEAM_SESSIONS,
    TOPICS,
    USER_WEIGHTS,
    VERSION_QUALITY,
    WEAK_ANSWER_PREFIXES,
)

TURNS_PER_CONVERSATION = 4
VOTE_SHARE = 0.5
COMMENT_SHARE = 0.2
TURN_COLUMNS = (
    "project_id",
    "prompt_id",
    "conversation_id",
    "user_id",
    "team_session",
    "model",
    "provider",
    "prompt_version",
    "messages",
    "parameters",
    "prompt_text",
    "response",
    "finish_reason",
    "status",
    "error_type",
    "error_message",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "ttft_ms",
    "latency_ms",
    "created_ms",
)
_PARAMETERS = json.dumps({"temperature": 0.7})
# The messages of each (prompt version, topic), serialised once.
_MESSAGES = [
    [
        json.dumps([{"role": "system", "content": SYSTEM_PROMPTS[v]}, {"role": "user", "content": q}])
        for q, _ in TOPICS
    ]
    for v in PROMPT_VERSIONS
]
Row = tuple[object, ...]
_SESSIONS = [*TEAM_SESSIONS, None]  # index -1 is "no team session"


@dataclass
class Chunk:
    """One chunk's rows as tuples in column order."""

    conversations: list[Row]
    turns: list[Row]
    votes: list[Row]


def _per_model(field: str, model: np.ndarray) -> np.ndarray:
    return np.array([getattr(m, field) for m in DEMO_MODELS], dtype=float)[model]


class DemoPlan:
    """Draws ``total`` turns over the ``days`` days before ``end_ms``, in chunks that follow time."""

    def __init__(
        self, *, seed: int, project_id: int, first_turn: int, first_conversation: int, end_ms: int, days: int
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.project_id = project_id
        self.next_turn = first_turn
        self.next_conversation = first_conversation
        self.end_ms = end_ms
        self.span_ms = days * MS_PER_DAY
        self.shares = np.array([m.share for m in DEMO_MODELS]) / sum(m.share for m in DEMO_MODELS)
        self.user_weights = np.array(USER_WEIGHTS) / sum(USER_WEIGHTS)

    def chunks(self, total: int, chunk_turns: int) -> list[tuple[int, int]]:
        """The (first turn, size) of each chunk."""
        return [(done, min(chunk_turns, total - done)) for done in range(0, total, chunk_turns)]

    def draw(self, done: int, size: int, total: int) -> Chunk:
        """The chunk of ``size`` turns starting at turn ``done`` of ``total``: the next slice of time."""
        rng = self.rng
        n_conv = -(-size // TURNS_PER_CONVERSATION)
        first_conv, start = self.next_conversation, self.next_turn
        self.next_turn += size
        self.next_conversation += n_conv
        begin = self.end_ms - self.span_ms + self.span_ms * done // total
        finish = self.end_ms - self.span_ms + self.span_ms * (done + size) // total
        conv_start = np.sort(rng.integers(begin, max(begin + 1, finish), n_conv))
        conv_model = rng.choice(len(DEMO_MODELS), size=n_conv, p=self.shares)
        conv_user = rng.choice(len(DEMO_USERS), size=n_conv, p=self.user_weights)
        in_session = rng.random(n_conv) < TEAM_SESSION_SHARE
        conv_session = np.where(in_session, rng.integers(0, len(TEAM_SESSIONS), n_conv), -1)
        conv_version = rng.choice(len(PROMPT_VERSIONS), size=n_conv, p=(0.3, 0.4, 0.3))
        of_conv = np.arange(size) // TURNS_PER_CONVERSATION
        position = np.arange(size) % TURNS_PER_CONVERSATION
        gaps = rng.integers(20_000, 240_000, size)
        created = np.minimum(conv_start[of_conv] + position * gaps, self.end_ms - 1)
        model, version = conv_model[of_conv], conv_version[of_conv]
        topic = rng.integers(0, len(TOPICS), size)
        good = rng.random(size) < self._quality(model, version, created)
        status = np.where(
            rng.random(size) < _per_model("error_rate", model),
            1,
            np.where(rng.random(size) < CANCEL_RATE, 2, 0),
        )
        error_kind = rng.integers(0, len(ERROR_TYPES), size)
        labels = (conv_user, conv_session, model, version)
        turns = self._turns(start, first_conv, of_conv, labels, topic, good, status)
        columns = self._numbers(rng, model, status, error_kind, created, size)
        turn_rows = [head + tail for head, tail in zip(turns, columns, strict=True)]
        conversations = self._conversations(
            first_conv, n_conv, conv_start, conv_user, conv_session, turn_rows
        )
        return Chunk(conversations, turn_rows, self._votes(turn_rows, good, status))

    def _quality(self, model: np.ndarray, version: np.ndarray, created: np.ndarray) -> np.ndarray:
        quality = np.array([m.quality for m in DEMO_MODELS])[model]
        quality = quality + np.array([VERSION_QUALITY[v] for v in PROMPT_VERSIONS])[version]
        days_ago = (self.end_ms - created) / MS_PER_DAY
        incident = [m.name for m in DEMO_MODELS].index(INCIDENT_MODEL)
        hit = (model == incident) & (days_ago <= INCIDENT_DAYS_AGO[0]) & (days_ago >= INCIDENT_DAYS_AGO[1])
        return np.clip(quality - hit * INCIDENT_QUALITY_DROP, 0.02, 0.98)

    def _turns(
        self,
        start: int,
        first_conv: int,
        of_conv: np.ndarray,
        labels: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        topic: np.ndarray,
        good: np.ndarray,
        status: np.ndarray,
    ) -> list[Row]:
        """Each turn's columns up to its answer (before the outcome's columns)."""
        seed, project = self.seed, self.project_id
        conv_user, conv_session, model, version = labels
        rows: list[Row] = []
        columns = (of_conv, model, version, topic, good, status)
        for i, (conv, m, v, t, ok, s) in enumerate(zip(*(c.tolist() for c in columns), strict=True)):
            number = start + i
            prompt, text = TOPICS[t]
            answer: str | None = text
            if not ok:
                text = answer = WEAK_ANSWER_PREFIXES[number % len(WEAK_ANSWER_PREFIXES)] + text.lower()
            if s == 1:  # an error has no answer; a cancelled answer stops a third of the way
                answer = None
            elif s == 2:
                answer = text[: max(1, len(text) // 3)]
            demo = DEMO_MODELS[m]
            rows.append(
                (
                    project,
                    f"demo-{seed}-{number}",
                    f"demo-{seed}-c{first_conv + conv}",
                    DEMO_USERS[conv_user[conv]],
                    _SESSIONS[conv_session[conv]],
                    demo.name,
                    demo.provider,
                    PROMPT_VERSIONS[v],
                    _MESSAGES[v][t],
                    _PARAMETERS,
                    prompt,
                    answer,
                )
            )
        return rows

    def _numbers(
        self,
        rng: np.random.Generator,
        model: np.ndarray,
        status: np.ndarray,
        error_kind: np.ndarray,
        created: np.ndarray,
        size: int,
    ) -> list[Row]:
        """Each turn's outcome columns (``response`` is patched in by the caller for errors/cancels)."""
        prompt = np.maximum(5, _per_model("prompt_tokens", model) * rng.lognormal(0, 0.5, size)).astype(int)
        completion = np.maximum(
            1, _per_model("completion_tokens", model) * rng.lognormal(0, 0.6, size)
        ).astype(int)
        ttft = np.round(_per_model("ttft_ms", model) * rng.lognormal(0, 0.35, size), 1)
        per_token = _per_model("ms_per_token", model) * rng.lognormal(0, 0.2, size)
        latency = np.round(ttft + completion * per_token, 1)
        rows: list[Row] = []
        for p, c, f, lat, s, e, at in zip(
            prompt.tolist(),
            completion.tolist(),
            ttft.tolist(),
            latency.tolist(),
            status.tolist(),
            error_kind.tolist(),
            created.tolist(),
            strict=True,
        ):
            if s == 1:
                kind = ERROR_TYPES[e]
                rows.append((None, "error", kind, ERROR_MESSAGES[kind], p, None, None, None, lat, at))
            elif s == 2:
                rows.append((None, "cancelled", None, None, p, c // 3, p + c // 3, f, round(lat / 3, 1), at))
            else:
                rows.append(("stop", "ok", None, None, p, c, p + c, f, lat, at))
        return rows

    def _conversations(
        self,
        first_conv: int,
        n_conv: int,
        conv_start: np.ndarray,
        conv_user: np.ndarray,
        conv_session: np.ndarray,
        turn_rows: list[Row],
    ) -> list[Row]:
        rows: list[Row] = []
        for c in range(n_conv):
            first = turn_rows[c * TURNS_PER_CONVERSATION]
            last = turn_rows[min(len(turn_rows), (c + 1) * TURNS_PER_CONVERSATION) - 1]
            rows.append(
                (
                    self.project_id,
                    f"demo-{self.seed}-c{first_conv + c}",
                    DEMO_USERS[conv_user[c]],
                    first[10],
                    _SESSIONS[conv_session[c]],
                    "completed",
                    min(int(conv_start[c]), int(first[-1])),  # type: ignore[call-overload]
                    last[-1],
                    last[-1],
                )
            )
        return rows

    def _votes(self, turns: list[Row], good: np.ndarray, status: np.ndarray) -> list[Row]:
        rng, size = self.rng, len(turns)
        voted = rng.random(size) < VOTE_SHARE
        agrees = rng.random(size) < 0.92
        commented = rng.random(size) < COMMENT_SHARE
        delay = rng.integers(5_000, 600_000, size)
        pick = rng.integers(0, 1_000, size)
        positive = (good == agrees) & (status == 0)
        rows: list[Row] = []
        for i in np.flatnonzero(voted).tolist():
            turn = turns[i]
            up = bool(positive[i])
            texts = POSITIVE_COMMENTS if up else NEGATIVE_COMMENTS
            moment = min(int(turn[-1]) + int(delay[i]), self.end_ms)  # type: ignore[call-overload]
            comment = texts[int(pick[i]) % len(texts)] if commented[i] else None
            rows.append(
                (
                    turn[0],
                    turn[1],
                    turn[3],
                    1 if up else -1,
                    comment,
                    turn[4],
                    turn[5],
                    turn[7],
                    None,  # no stored prompt
                    None,
                    moment,
                    moment,
                )
            )
        return rows
