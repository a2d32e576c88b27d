"""Redaction: personal data and secrets in a text replaced by typed placeholders such as ``[EMAIL]``.

Each kind has a cheap pattern that finds candidates and, where a checksum or a numbering plan exists,
a check from a well-kept library: phone numbers are confirmed by Google's libphonenumber
(``phonenumbers``: international numbers, written with ``+`` or ``00``), IBANs by ``stdnum.iban`` (mod-97 and
the country's length and layout), card numbers by ``stdnum.luhn`` and a card-issuer prefix. Both
libraries load on the first text that has a candidate. User patterns (``BILAN_REDACT_PATTERNS``)
come after the secrets and before the built-in kinds. ``find`` lists what was found, for the
benchmark; ``redact`` replaces it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

EMAIL, PHONE, CARD, IBAN, IP, SECRET = "EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET"
BUILT_IN_KINDS = (EMAIL, PHONE, CARD, IBAN, IP, SECRET)
USER_KIND = "REDACTED"  # the placeholder of a user pattern given without a name
_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,29}")
# Texts a user pattern is tried on: one that matches the empty string in any of them is refused.
_EMPTY_PROBES = ("", " ", "a", "0", "a b", "Hello, world! 123 @x.y_z-")

# A group named ``s`` marks the part to hide: "Bearer [SECRET]" keeps the word that says what it was.
# Each pattern runs only on a text holding one of its hints (lower-cased text for the last three):
# most texts hold none, and a substring test is far cheaper than a regex scan.
_SECRETS: tuple[tuple[re.Pattern[str], tuple[str, ...], bool], ...] = tuple(
    (re.compile(pattern), hints, folded)
    for pattern, hints, folded in (
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
            r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\s]*)",
            ("PRIVATE KEY",),
            False,
        ),
        (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", ("eyJ",), False),
        (r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", ("sk-",), False),
        (
            r"\bA(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|IPA)[A-Z0-9]{16}\b",
            ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"),
            False,
        ),
        (r"\bgh[pousr]_[A-Za-z0-9]{36,}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
        (
            r"(?i)aws[\w ]{0,20}?(?:secret|key)[\w ]{0,20}?[\"']?\s*[:=]\s*[\"']?"
            r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            ("aws",),
            True,
        ),
        (r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9._~+/-]{16,}=*)", ("bearer",), True),
        (
            r"(?i)\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key|client[_-]?secret"
            r"|password|passwd|token|secret)\b[\"']?\s*[:=]\s*[\"']?(?P<s>[^\s\"',;]{8,})",
            ("key", "token", "secret", "passw"),
            True,
        ),
    )
)
# An address whose "top-level domain" is an image extension is a file name (icon@2x.png), not a mailbox.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.(?!(?:png|jpe?g|gif|svg|webp|ico)\b)[A-Za-z]{2,}\b"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}")
_CARD = re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}")
_CARD_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3|6(?:011|5|4[4-9]|2)")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?:%\w+)?(?![\w:])"
)
_IPV6_HINT = re.compile(r"::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}")
_VERSION_WORDS = re.compile(r"(?i)\b(?:version|release|build|ver|v)\.?\s*$")
# An international number starts with "+" or with the "00" international prefix.
_PHONE_START = re.compile(r"\+\s?\(?\d|(?<![\d.,])00\s?[1-9]")
_PHONE_WINDOW = 40  # characters after a "+" the phone matcher reads


@dataclass(frozen=True, order=True)
class Finding:
    """One piece of a text to hide: ``text[start:end]`` is of ``kind`` (the placeholder's name)."""

    start: int
    end: int
    kind: str


class Redactor:
    """The built-in detectors and a set of user patterns; ``redact`` is safe to call from any thread."""

    def __init__(self, user_patterns: Mapping[str, str] | None = None) -> None:
        self.user_patterns = compile_user_patterns(user_patterns or {})
        self._detectors: tuple[tuple[str, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
            (SECRET, _secrets),
            *((kind, _pattern_spans(pattern)) for kind, pattern in self.user_patterns),
            (EMAIL, _pattern_spans(_EMAIL)),
            (IBAN, _ibans),
            (CARD, _cards),
            (IP, _ips),
            (PHONE, _phones),
        )

    def find(self, text: str) -> list[Finding]:
        """What to hide in ``text``, in order; where two detectors overlap, the earlier one wins."""
        taken: list[Finding] = []
        for kind, detector in self._detectors:
            for start, end in detector(text):
                if end > start and not any(start < one.end and one.start < end for one in taken):
                    taken.append(Finding(start, end, kind))
        return sorted(taken)

    def redact(self, text: str) -> str:
        """``text`` with each finding replaced by its placeholder (``[EMAIL]``, ``[PHONE]``, …)."""
        parts: list[str] = []
        position = 0
        for finding in self.find(text):
            parts.append(text[position : finding.start])
            parts.append(f"[{finding.kind}]")
            position = finding.end
        parts.append(text[position:])
        return "".join(parts)


@lru_cache(maxsize=16)
def _cached_redactor(patterns: tuple[tuple[str, str], ...]) -> Redactor:
    return Redactor(dict(patterns))


def redactor_for(user_patterns: Mapping[str, str]) -> Redactor:
    """The redactor for a set of user patterns, compiled once per set."""
    return _cached_redactor(tuple(sorted(user_patterns.items())))


def parse_user_patterns(value: object) -> dict[str, str]:
    """``BILAN_REDACT_PATTERNS`` as {placeholder name: regex}; ValueError saying what is wrong.

    Given as a JSON object (``{"ORDER_ID": "ORD-\\\\d{6}"}``: ``[ORDER_ID]`` replaces a match), a JSON
    array of regexes or one regex (``[REDACTED]`` replaces a match), or the same as Python values.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = json.loads(value) if value.strip()[:1] in ("[", "{") else [value]
    if isinstance(value, list | tuple):
        value = {f"{USER_KIND}{index}" if index else USER_KIND: one for index, one in enumerate(value)}
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object of NAME: regex, a JSON array of regexes, or one regex")
    compile_user_patterns(value)
    return dict(value)


def compile_user_patterns(patterns: Mapping[str, object]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each pattern compiled with its placeholder name; ValueError for a bad name, regex or empty match."""
    compiled = []
    for name, pattern in patterns.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"pattern name {name!r} must be 1 to 30 capitals, digits or _, starting with a capital"
            )
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"pattern {name} must be a non-empty regular expression, got {pattern!r}")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {name} ({pattern!r}) is not a valid regular expression: {exc}"
            ) from exc
        if any(match.end() == match.start() for probe in _EMPTY_PROBES for match in regex.finditer(probe)):
            raise ValueError(
                f"pattern {name} ({pattern!r}) matches the empty string, so it would hide nothing or "
                "everything; make it match at least one character"
            )
        placeholder = USER_KIND if name.startswith(USER_KIND) and name[len(USER_KIND) :].isdigit() else name
        compiled.append((placeholder, regex))
    return tuple(compiled)


def _pattern_spans(pattern: re.Pattern[str]) -> Callable[[str], Iterator[tuple[int, int]]]:
    def spans(text: str) -> Iterator[tuple[int, int]]:
        for match in pattern.finditer(text):
            yield match.span()

    return spans


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    folded = text.lower()
    for pattern, hints, lower in _SECRETS:
        if not any(hint in (folded if lower else text) for hint in hints):
            continue
        for match in pattern.finditer(text):
            yield match.span("s") if "s" in pattern.groupindex else match.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        # A greedy candidate may have swallowed the next capitalised word: try shorter ones too.
        candidate = match.group()
        from stdnum import iban

        for end in range(len(candidate), 14, -1):
            if candidate[end - 1].isalnum() and iban.is_valid(candidate[:end]):
                yield match.start(), match.start() + end
                break


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        candidate = match.group()
        digit_ends = [index + 1 for index, char in enumerate(candidate) if char.isdigit()]
        digits = "".join(char for char in candidate if char.isdigit())
        if not _CARD_ISSUER.match(digits):
            continue
        from stdnum import luhn

        for count in range(len(digits), 12, -1):  # the longest prefix that checks out
            if luhn.is_valid(digits[:count]):
                yield match.start(), match.start() + digit_ends[count - 1]
                break


def _ips(text: str) -> Iterator[tuple[int, int]]:
    # IPv6 first: one may end in an IPv4 address (::ffff:192.0.2.128), which is then part of it.
    for match in _IPV6.finditer(text) if _IPV6_HINT.search(text) else ():
        candidate = match.group()
        if candidate.count(":") >= 2 and candidate.strip(":"):
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield match.span()
    for match in _IPV4.finditer(text):
        if not _VERSION_WORDS.search(text, max(0, match.start() - 12), match.start()):
            yield match.span()


def _phones(text: str) -> Iterator[tuple[int, int]]:
    starts = [match.start() for match in _PHONE_START.finditer(text)]
    if not starts:
        return
    import phonenumbers

    for start in starts:
        window = text[start : start + _PHONE_WINDOW]
        shift = 0
        if window.startswith("00"):  # read as "+": the matcher knows no region here
            window, shift = "+" + window[2:], 1
        for found in phonenumbers.PhoneNumberMatcher(window, None, leniency=phonenumbers.Leniency.VALID):
            if found.start == 0:
                yield start, start + found.end + shift
            break
