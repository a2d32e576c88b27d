"""The app's two colour palettes: one for outcomes (👍/👎, ok/error/cancelled), one for models.

A model keeps its colour on every chart and page: the models Bilan knows (the built-in price table and
the demo models) take the model palette's colours in sorted order, so each has its own; any other
model name is hashed into the same palette, so it too gets the same colour wherever it is drawn.
Neither palette holds the other's red, green or grey, so a colour means one thing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import altair as alt

from bilan_core.pricing import DEFAULT_PRICES
from bilan_core.settings import DEMO_MODEL
from bilan_core.store.demo_catalogue import DEMO_MODELS

# Words beside the emoji: a legend stays readable where no emoji font is installed.
UP, DOWN = "👍 up", "👎 down"
OUTCOME_COLORS: dict[str, str] = {
    UP: "#2e9d5b",
    DOWN: "#d64545",
    "ok": "#2e9d5b",
    "error": "#d64545",
    "cancelled": "#9a9a9a",
}
MODEL_PALETTE = (
    "#4c78a8",  # blue
    "#f58518",  # orange
    "#72b7b2",  # teal
    "#b279a2",  # mauve
    "#9d755d",  # brown
    "#1f3b73",  # navy
    "#17becf",  # cyan
    "#e377c2",  # pink
    "#bcbd22",  # olive
    "#8c6bb1",  # violet
)
KNOWN_MODELS: tuple[str, ...] = tuple(
    sorted(set(DEFAULT_PRICES) | {model.name for model in DEMO_MODELS} | {DEMO_MODEL})
)
_KNOWN_SLOTS = {model: index % len(MODEL_PALETTE) for index, model in enumerate(KNOWN_MODELS)}
NEUTRAL = "#6b7a8f"  # a measure that is neither an outcome nor a model (e.g. a prompt version's bar)
MUTED = "#d0d4da"  # a figure with too few votes to read


def model_color(model: str) -> str:
    """The colour of ``model`` on every chart: a known model's own, else its name hashed into the palette."""
    slot = _KNOWN_SLOTS.get(model)
    if slot is None:
        slot = zlib.crc32(model.encode("utf-8")) % len(MODEL_PALETTE)
    return MODEL_PALETTE[slot]


def model_scale(models: Iterable[str]) -> alt.Scale:
    """A colour scale giving each of ``models`` its colour from ``model_color``."""
    domain = sorted({str(model) for model in models})
    return alt.Scale(domain=domain, range=[model_color(model) for model in domain])


def outcome_scale(outcomes: Iterable[str]) -> alt.Scale:
    """A colour scale for outcomes (``UP``/``DOWN``, ``ok``/``error``/``cancelled``), in the order given."""
    domain = list(outcomes)
    return alt.Scale(domain=domain, range=[OUTCOME_COLORS[outcome] for outcome in domain])
