"""Latency histograms on fixed log-spaced buckets, stored compactly in the roll-ups.

Bucket ``b >= 1`` holds the values in ``[LOW_MS * RATIO**(b-1), LOW_MS * RATIO**b)``; bucket 0 holds
everything below ``LOW_MS``. A percentile read from a histogram is the geometric middle of the bucket
that holds the exact nearest-rank value, so it is within ``MAX_RELATIVE_ERROR`` (3.9 %) of it, or
within ``LOW_MS / 2`` for values under ``LOW_MS``. A histogram is stored as sorted (bucket, count)
pairs: little-endian uint16 and uint32, only the buckets in use.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

LOW_MS = 0.1
RATIO = 1.08
MAX_BUCKET = 600  # 0.1 ms * 1.08**600: far beyond any latency
MAX_RELATIVE_ERROR = math.sqrt(RATIO) - 1
PAIR = np.dtype([("bucket", "<u2"), ("count", "<u4")])
_PACKED = struct.Struct("<HI")  # the same 6-byte layout as PAIR
LOG_RATIO = math.log(RATIO)


def bucket_of(value_ms: float) -> int:
    """The bucket that holds a latency in milliseconds."""
    if not value_ms >= LOW_MS:  # also NaN
        return 0
    return min(MAX_BUCKET, int(math.log(value_ms / LOW_MS) / LOG_RATIO) + 1)


def buckets_of(values_ms: np.ndarray) -> np.ndarray:
    """``bucket_of`` of every value of a float array (int64), computed with numpy."""
    values = np.asarray(values_ms, dtype=np.float64)
    counted = values >= LOW_MS  # False for NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.log(np.where(counted, values, LOW_MS) / LOW_MS) / LOG_RATIO
    found = np.where(counted, np.minimum(MAX_BUCKET, np.floor(position) + 1), 0).astype(np.int64)
    # numpy's log may differ from math.log in the last bit: a value that close to a bucket's edge
    # takes bucket_of's answer, so both always agree.
    for index in np.flatnonzero(counted & (np.abs(position - np.rint(position)) < 1e-9)).tolist():
        found[index] = bucket_of(float(values[index]))
    return found


def bucket_value(bucket: int) -> float:
    """The value a percentile in this bucket is reported as: the bucket's geometric middle."""
    if bucket <= 0:
        return LOW_MS / 2
    return LOW_MS * RATIO ** (bucket - 0.5)


def encode(counts: Mapping[int, int]) -> bytes:
    """A histogram's stored form (buckets with a zero count left out)."""
    pairs = sorted((bucket, count) for bucket, count in counts.items() if count)
    if any(count < 0 for _, count in pairs):
        raise ValueError("a histogram count fell below zero: the roll-ups disagree with the rows")
    return b"".join(_PACKED.pack(bucket, count) for bucket, count in pairs)


def encode_runs(buckets: np.ndarray, counts: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[bytes]:
    """Many histograms' stored forms at once: histogram ``i`` is ``buckets[starts[i]:ends[i]]`` (ascending,
    no repeats) with their ``counts`` (positive); an empty one is ``b""``."""
    if counts.size and (counts.min() <= 0 or counts.max() > np.iinfo(np.uint32).max):
        raise ValueError("histogram counts must be positive and fit in 32 bits")
    pairs = np.empty(buckets.size, dtype=PAIR)
    pairs["bucket"] = buckets
    pairs["count"] = counts
    packed = pairs.tobytes()
    width = PAIR.itemsize
    return [
        packed[start * width : end * width] for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def decode(stored: bytes | None) -> Counter[int]:
    """The bucket counts of a stored histogram."""
    # struct, not numpy: a write merges a few small histograms, where numpy's set-up costs most.
    return Counter(dict(_PACKED.iter_unpack(stored))) if stored else Counter()


def merged(stored: bytes | None, change: Mapping[int, int]) -> bytes:
    """A stored histogram with per-bucket count changes (positive or negative) applied."""
    if not change:  # a stored histogram is already in its encoded form
        return stored or b""
    counts = dict(_PACKED.iter_unpack(stored)) if stored else {}
    for bucket, delta in change.items():
        counts[bucket] = counts.get(bucket, 0) + delta
    return encode(counts)


def dense(histograms: Iterable[bytes | None]) -> np.ndarray:
    """The bucket counts of several stored histograms summed, as an array indexed by bucket."""
    joined = b"".join(stored for stored in histograms if stored)
    pairs = np.frombuffer(joined, dtype=PAIR)
    return np.bincount(pairs["bucket"], weights=pairs["count"], minlength=MAX_BUCKET + 1)


def percentile(counts: np.ndarray, share: float) -> float | None:
    """The nearest-rank ``share`` percentile from dense bucket counts (None when empty)."""
    total = round(float(counts.sum()))
    if total <= 0:
        return None
    rank = max(1, math.ceil(share * total))
    bucket = int(np.searchsorted(np.cumsum(counts), rank - 0.5))
    return bucket_value(bucket)
