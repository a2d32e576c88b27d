"""Roll-up rows summed with numpy from columns of turns and votes, batch by batch (a rebuild's arithmetic).

``RollupSums`` takes the rows of a project in batches of columns (any order, any batch size) and gives
each level's roll-up rows, as ``rollup_rebuild`` writes them: the same sums and histogram buckets as the
write path (``histograms.buckets_of`` is ``bucket_of``, ``rollups.day_weights`` is ``day_weight``).
Each distinct label tuple gets a small integer, so a batch is grouped on one int64 key per row
(time bucket and label number) instead of on strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bilan_core.store import histograms
from bilan_core.store.rollup_tables import (
    LEVELS,
    NO_PROMPT_NUMBER,
    NONE_KEY,
    TURN_KEY_LABELS,
    VOTE_KEY_LABELS,
    RollupLevel,
)
from bilan_core.store.rollups import day_weights

_LABEL_BITS = 32  # label numbers per key; time buckets (hours since 1970) take the bits above
_BUCKET_BITS = 10  # histogram buckets (0..MAX_BUCKET) below a key in a histogram entry
_MAX_TIME_BUCKET = 1 << (63 - _LABEL_BITS - _BUCKET_BITS)
_COMPACT_ROWS = 2_000_000  # pending partial sums summed up once there are this many and as many as kept


@dataclass
class TurnColumns:
    """A batch of turns: labels in ``rollup_tables.TURN_KEY_LABELS`` order, missing ones already ``""``/0."""

    created_ms: np.ndarray  # int64
    labels: Sequence[np.ndarray]
    status: np.ndarray  # 0 ok, 1 error, 2 cancelled
    prompt_tokens: np.ndarray  # 0 where unknown
    completion_tokens: np.ndarray
    latency_ms: np.ndarray  # float, NaN where unknown
    ttft_ms: np.ndarray

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> TurnColumns:
        """The columns of turn rows (tuples in ``names`` order; a label not among them is missing)."""
        column = _column_reader(names, rows)
        status = np.array(column("status", "ok"), dtype=object)
        return cls(
            created_ms=np.array(column("created_ms", 0), dtype=np.int64),
            labels=_labels_of(column, TURN_KEY_LABELS),
            status=np.where(status == "error", 1, np.where(status == "cancelled", 2, 0)).astype(np.int8),
            prompt_tokens=np.nan_to_num(np.array(column("prompt_tokens", 0), dtype=np.float64)),
            completion_tokens=np.nan_to_num(np.array(column("completion_tokens", 0), dtype=np.float64)),
            latency_ms=np.array(column("latency_ms", None), dtype=np.float64),
            ttft_ms=np.array(column("ttft_ms", None), dtype=np.float64),
        )


@dataclass
class VoteColumns:
    """A batch of votes: labels in ``rollup_tables.VOTE_KEY_LABELS`` order, missing ones already ``""``/0."""

    created_ms: np.ndarray  # int64
    labels: Sequence[np.ndarray]
    up: np.ndarray  # bool: value > 0
    commented: np.ndarray  # bool

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> VoteColumns:
        """The columns of vote rows (tuples in ``names`` order; a label not among them is missing)."""
        column = _column_reader(names, rows)
        return cls(
            created_ms=np.array(column("created_ms", 0), dtype=np.int64),
            labels=_labels_of(column, VOTE_KEY_LABELS),
            up=np.array(column("value", 0), dtype=np.int64) > 0,
            commented=np.array([text is not None for text in column("comment", None)], dtype=bool),
        )


def _column_reader(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    positions = {name: index for index, name in enumerate(names)}

    def column(name: str, missing: Any) -> list[Any]:
        index = positions.get(name)
        return [missing] * len(rows) if index is None else [row[index] for row in rows]

    return column


def _labels_of(column: Any, names: tuple[str, ...]) -> list[np.ndarray]:
    # A missing label as the roll-up key spells it: "" (number 0 for the stored prompt's number).
    found = []
    for name in names:
        missing = NO_PROMPT_NUMBER if name == "prompt_number" else NONE_KEY
        values = column(name, missing)
        found.append(np.array([missing if value is None else value for value in values], dtype=object))
    return found


@dataclass
class _Sums:
    """Sums per int64 key, added to in batches and summed up now and then (partial sums pile up between)."""

    width: int
    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    pending: int = 0
    kept: int = 0

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        self.keys.append(keys)
        self.values.append(values)
        self.pending += keys.size
        if self.pending > max(_COMPACT_ROWS, self.kept):
            self.total()

    def total(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct keys, ascending, and each one's sums (one row per key)."""
        if not self.keys:
            return np.empty(0, np.int64), np.empty((0, self.width))
        keys, values = _summed(np.concatenate(self.keys), np.concatenate(self.values))
        self.keys, self.values, self.pending, self.kept = [keys], [values], 0, keys.size
        return keys, values


def _summed(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, inverse = np.unique(keys, return_inverse=True)
    sums = np.column_stack(
        [np.bincount(inverse, weights=values[:, i], minlength=distinct.size) for i in range(values.shape[1])]
    )
    return distinct, sums.reshape(distinct.size, values.shape[1])


class _Labels:
    """A number for each distinct label tuple, the same across batches."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[Any, ...], int] = {}
        self.tuples: list[tuple[Any, ...]] = []

    def of(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        combined = np.zeros(len(columns[0]), dtype=np.int64)
        for column in columns:
            codes, distinct = pd.factorize(column, use_na_sentinel=False)
            combined = pd.factorize(combined * len(distinct) + codes)[0]
        _, first = np.unique(combined, return_index=True)
        numbers = np.array(
            [self.number(tuple(column[row] for column in columns)) for row in first.tolist()], dtype=np.int64
        )
        if numbers.size and numbers.max() >= 1 << _LABEL_BITS:
            raise ValueError("too many distinct roll-up labels to sum in one rebuild")
        return numbers[combined]

    def number(self, labels: tuple[Any, ...]) -> int:
        labels = tuple(value.item() if isinstance(value, np.generic) else value for value in labels)
        found = self.numbers.get(labels)
        if found is None:
            found = self.numbers[labels] = len(self.tuples)
            self.tuples.append(labels)
        return found


class _LevelLabels:
    """A level's label tuples (some of the full labels) numbered, found from the full tuples' numbers."""

    def __init__(self, names: tuple[str, ...], full_names: tuple[str, ...]) -> None:
        self.positions = [full_names.index(name) for name in names]
        self.labels = _Labels()
        self.of_full: list[int] = []

    def of(self, full: _Labels, numbers: np.ndarray) -> np.ndarray:
        for labels in full.tuples[len(self.of_full) :]:
            self.of_full.append(self.labels.number(tuple(labels[index] for index in self.positions)))
        return np.asarray(self.of_full, dtype=np.int64)[numbers]


class RollupSums:
    """Every level's roll-up sums of one project's turns and votes, added batch by batch."""

    def __init__(self, project_id: int) -> None:
        self.project_id = project_id
        self._turn_labels, self._vote_labels = _Labels(), _Labels()
        self._level_turn_labels = {
            level.name: _LevelLabels(level.turn_labels, TURN_KEY_LABELS) for level in LEVELS
        }
        self._level_vote_labels = {
            level.name: _LevelLabels(level.vote_labels, VOTE_KEY_LABELS) for level in LEVELS
        }
        self._turns = {level.name: _Sums(5) for level in LEVELS}
        self._latency = {level.name: _Sums(1) for level in LEVELS}
        self._ttft = {level.name: _Sums(1) for level in LEVELS}
        self._votes = {level.name: _Sums(5) for level in LEVELS}

    def add_turns(self, batch: TurnColumns) -> None:
        """Count a batch of turns in."""
        if not len(batch.created_ms):
            return
        labels = self._turn_labels.of(batch.labels)
        counters = np.column_stack(
            [
                np.ones(len(labels)),
                batch.status == 1,
                batch.status == 2,
                batch.prompt_tokens,
                batch.completion_tokens,
            ]
        ).astype(np.float64)
        measures = [(self._latency, batch.latency_ms), (self._ttft, batch.ttft_ms)]
        found = [(histograms.buckets_of(values), ~np.isnan(values)) for _, values in measures]
        for level in LEVELS:
            keys = _keys(
                batch.created_ms, level, self._level_turn_labels[level.name].of(self._turn_labels, labels)
            )
            self._turns[level.name].add(*_summed(keys, counters))
            for (sums, _), (buckets, known) in zip(measures, found, strict=True):
                entries, counts = np.unique(
                    (keys[known] << _BUCKET_BITS) | buckets[known], return_counts=True
                )
                sums[level.name].add(entries, counts.reshape(-1, 1).astype(np.float64))

    def add_votes(self, batch: VoteColumns) -> None:
        """Count a batch of votes in."""
        if not len(batch.created_ms):
            return
        labels = self._vote_labels.of(batch.labels)
        weight = day_weights(batch.created_ms.astype(np.int64))
        up = batch.up.astype(bool)
        counters = np.column_stack(
            [up, ~up, batch.commented, np.where(up, weight, 0.0), np.where(up, 0.0, weight)]
        )
        for level in LEVELS:
            keys = _keys(
                batch.created_ms, level, self._level_vote_labels[level.name].of(self._vote_labels, labels)
            )
            self._votes[level.name].add(*_summed(keys, counters.astype(np.float64)))

    def turn_rows(self, level: RollupLevel) -> list[tuple[Any, ...]]:
        """The level's turn roll-up rows in key order: key, ``TURN_COUNTERS``, the two histograms."""
        keys, sums = self._turns[level.name].total()
        blobs = [
            _histogram_blobs(keys, self._latency[level.name]),
            _histogram_blobs(keys, self._ttft[level.name]),
        ]
        labels = self._level_turn_labels[level.name].labels.tuples
        counters = np.rint(sums).astype(np.int64).tolist()
        rows = [
            (
                self.project_id,
                bucket,
                *labels[number],
                *counted,
                latency or None,
                ttft or None,
            )
            for bucket, number, counted, latency, ttft in zip(*_split(keys), counters, *blobs, strict=True)
        ]
        return sorted(rows, key=lambda row: row[: len(level.turn_key)])

    def vote_rows(self, level: RollupLevel) -> list[tuple[Any, ...]]:
        """The level's vote roll-up rows in key order: ``level.vote_key`` then ``VOTE_COUNTERS``."""
        keys, sums = self._votes[level.name].total()
        labels = self._level_vote_labels[level.name].labels.tuples
        counts = np.rint(sums[:, :3]).astype(np.int64).tolist()
        rows = [
            (self.project_id, bucket, *labels[number], *counted, *weights)
            for bucket, number, counted, weights in zip(
                *_split(keys), counts, sums[:, 3:].tolist(), strict=True
            )
        ]
        return sorted(rows, key=lambda row: row[: len(level.vote_key)])


def _keys(created_ms: np.ndarray, level: RollupLevel, labels: np.ndarray) -> np.ndarray:
    buckets = created_ms.astype(np.int64) // level.bucket_ms
    if buckets.size and (buckets.min() < 0 or buckets.max() >= _MAX_TIME_BUCKET):
        raise ValueError("a row's time is outside the range a rebuild can sum")
    return (buckets << _LABEL_BITS) | labels


def _split(keys: np.ndarray) -> tuple[list[int], list[int]]:
    return (keys >> _LABEL_BITS).tolist(), (keys & ((1 << _LABEL_BITS) - 1)).tolist()


def _histogram_blobs(keys: np.ndarray, sums: _Sums) -> list[bytes]:
    entries, counts = sums.total()
    owners = entries >> _BUCKET_BITS
    return histograms.encode_runs(
        entries & ((1 << _BUCKET_BITS) - 1),
        np.rint(counts[:, 0]).astype(np.int64),
        np.searchsorted(owners, keys, "left"),
        np.searchsorted(owners, keys, "right"),
    )
