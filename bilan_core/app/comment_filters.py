"""The Analytics page's comment search and vote filter, kept in the link (``?q=…&vote=up``) like the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bilan_core.analytics.palette import DOWN, UP

COMMENT_QUERY_KEYS = ("q", "vote")
MAX_SEARCH = 200
VOTE_SIGNS: dict[str, int | None] = {"all": None, "up": 1, "down": -1}
# Words with the emoji: the choice reads the same where no emoji font is installed.
VOTE_LABELS = {"all": "All votes", "up": f"{UP} only", "down": f"{DOWN} only"}


@dataclass(frozen=True)
class CommentFilters:
    """A search text (case-insensitive, in the comments) and which votes' comments: all, up or down."""

    search: str = ""
    vote: str = "all"

    def __post_init__(self) -> None:
        if self.vote not in VOTE_SIGNS:
            raise ValueError(f"the vote filter must be one of {', '.join(VOTE_SIGNS)}, got {self.vote!r}")
        if len(self.search) > MAX_SEARCH:
            raise ValueError(
                f"the comment search is {len(self.search)} characters; the limit is {MAX_SEARCH}"
            )

    @property
    def sign(self) -> int | None:
        """1 for 👍 only, -1 for 👎 only, None for all."""
        return VOTE_SIGNS[self.vote]

    def to_query(self) -> dict[str, str]:
        """The query-string parameters for this search (defaults left out)."""
        params = {}
        if self.search.strip():
            params["q"] = self.search.strip()
        if self.vote != "all":
            params["vote"] = self.vote
        return params


def comment_filters_from_query(params: Mapping[str, Sequence[str]]) -> tuple[CommentFilters, list[str]]:
    """The comment search from the link, and what in it could not be used (shown as warnings)."""
    problems = []
    search = (list(params.get("q") or [""])[-1]).strip()
    if len(search) > MAX_SEARCH:
        problems.append(f"The link's comment search is over {MAX_SEARCH} characters; it is cut there.")
        search = search[:MAX_SEARCH]
    vote = (list(params.get("vote") or ["all"])[-1]).strip() or "all"
    if vote not in VOTE_SIGNS:
        problems.append(f"Unknown vote filter {vote!r} in the link (up, down or all); showing all votes.")
        vote = "all"
    return CommentFilters(search=search, vote=vote), problems


def vote_word(value: int) -> str:
    """A vote as its emoji and word: ``👍 up`` or ``👎 down``."""
    return UP if value > 0 else DOWN
