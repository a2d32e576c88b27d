"""``{{variable}}`` templates: finding their placeholders, refusing broken ones, filling them in.

A placeholder is ``{{name}}`` (spaces inside the braces are allowed) where ``name`` is a Python-style
identifier. Single braces are plain text, so JSON examples in a prompt need no escaping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bilan_core.errors import PromptTemplateError

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def placeholders(template: str, *, where: str = "template") -> list[str]:
    """The variable names of ``template`` in order of first use; PromptTemplateError for a broken one."""
    names: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1).strip()
        if not NAME.fullmatch(name):
            raise PromptTemplateError(
                f"{where} has a placeholder {match.group(0)!r} whose name is not a variable name "
                "(letters, digits and _, not starting with a digit)"
            )
        if name not in names:
            names.append(name)
    rest = PLACEHOLDER.sub("", template)
    for token in ("{{", "}}"):
        if token in rest:
            position = _position(template, rest, token)
            raise PromptTemplateError(f"{where} has an unclosed placeholder: {token!r} near {position!r}")
    return names


def _position(template: str, rest: str, token: str) -> str:
    start = rest.index(token)
    return rest[max(0, start - 15) : start + 20]


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each placeholder replaced by its value (values are not read as templates)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1).strip()], template)
