"""Automatic checks of an answer against a dataset item's ``expected``.

``expected`` is a plain string (the answer must equal it, ignoring surrounding whitespace) or one
check as a one-key dict: ``{"equals": text}``, ``{"contains": text}``, ``{"regex": pattern}``,
``{"json": true}`` (the answer is valid JSON) or ``{"json_schema": schema}`` (valid JSON matching a
JSON Schema). ``parse_check`` refuses anything else when an item is stored, so a run never meets a
check it cannot evaluate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CHECK_KINDS = ("equals", "contains", "regex", "json", "json_schema")
MAX_CHECK_TEXT = 10_000


@dataclass(frozen=True)
class Check:
    """One check: its kind and its argument (text, pattern, schema, or True for ``json``)."""

    kind: str
    argument: Any

    def passes(self, answer: str) -> bool:
        """Whether ``answer`` passes this check."""
        if self.kind == "equals":
            return answer.strip() == str(self.argument).strip()
        if self.kind == "contains":
            return str(self.argument) in answer
        if self.kind == "regex":
            return re.search(self.argument, answer) is not None
        parsed = _json_or_none(answer)
        if parsed is _INVALID:
            return False
        if self.kind == "json":
            return True
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.argument).is_valid(parsed)


_INVALID = object()


def _json_or_none(answer: str) -> Any:
    try:
        return json.loads(_without_fence(answer))
    except ValueError:
        return _INVALID


def _without_fence(answer: str) -> str:
    """The answer without a Markdown code fence around it (models often wrap JSON in one)."""
    text = answer.strip()
    fenced = re.fullmatch(r"```[a-zA-Z]*\n(.*)\n```", text, flags=re.DOTALL)
    return fenced.group(1) if fenced else text


def parse_check(expected: Any) -> Check | None:
    """The check ``expected`` describes (None for no expectation); ValueError naming what is wrong."""
    if expected is None:
        return None
    if isinstance(expected, str):
        return Check("equals", _text("equals", expected))
    if not isinstance(expected, dict) or len(expected) != 1:
        raise ValueError(
            f"expected must be a text or one check such as {{'contains': 'Paris'}} "
            f"(one of {', '.join(CHECK_KINDS)}), got {expected!r:.200}"
        )
    ((kind, argument),) = expected.items()
    if kind not in CHECK_KINDS:
        raise ValueError(f"unknown check {kind!r}; a check is one of {', '.join(CHECK_KINDS)}")
    return Check(kind, _argument(kind, argument))


def _argument(kind: str, argument: Any) -> Any:
    if kind in ("equals", "contains"):
        return _text(kind, argument)
    if kind == "regex":
        try:
            re.compile(_text(kind, argument))
        except re.error as exc:
            raise ValueError(f"the regex check's pattern {argument!r:.200} is not valid: {exc}") from exc
        return argument
    if kind == "json":
        if argument is not True:
            raise ValueError("the json check is written {'json': true}")
        return True
    return _schema(argument)


def _text(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_CHECK_TEXT:
        raise ValueError(f"the {kind} check needs a non-empty text of at most {MAX_CHECK_TEXT:,} characters")
    return value


def _schema(schema: Any) -> dict[str, Any]:
    from jsonschema import Draft202012Validator, SchemaError

    if not isinstance(schema, dict):
        raise ValueError("the json_schema check needs a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"the json_schema check's schema is not valid: {exc.message}") from exc
    return schema


def check_answer(expected: Any, answer: str | None) -> bool | None:
    """True/False when ``expected`` holds a check and there is an answer; None otherwise."""
    check = parse_check(expected)
    if check is None or answer is None:
        return None
    return check.passes(answer)
