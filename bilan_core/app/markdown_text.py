"""The pages' import point for ``escape_markdown``.

The rule lives in the base module ``bilan_core.markdown_text``, so that reports below the app
(``reviews.report_text``) escape user text by the same rule.
"""

from __future__ import annotations

from bilan_core.markdown_text import escape_markdown

__all__ = ["escape_markdown"]
