"""Showing user text where Streamlit renders markdown (labels, captions, alerts) as the literal text."""

from __future__ import annotations

import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=&])")


def escape_markdown(text: str) -> str:
    """``text`` with every markdown-significant character backslash-escaped, so it shows literally."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
