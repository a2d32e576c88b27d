"""Model prices (USD per million tokens) and the estimated cost of token counts.

A model with no known price is *unpriced*: its cost is NaN, never zero, so totals do not
silently under-count. ``BILAN_PRICES`` (JSON) adds or replaces prices.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from bilan_core.errors import ConfigurationError

TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per one million input and output tokens."""

    input_per_million: float
    output_per_million: float


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}


def parse_price_overrides(raw: str | Mapping[str, object] | None) -> dict[str, Price]:
    """Prices from ``{"model": {"input": 1.0, "output": 2.0}}`` (JSON text or a mapping)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"BILAN_PRICES is not valid JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            'BILAN_PRICES must be a JSON object like {"my-model": {"input": 1, "output": 2}}'
        )
    return {str(model): _price_from(model, entry) for model, entry in raw.items()}


def _price_from(model: object, entry: object) -> Price:
    if not isinstance(entry, Mapping) or set(entry) != {"input", "output"}:
        raise ConfigurationError(
            f'BILAN_PRICES[{model!r}] must be {{"input": <USD per 1M>, "output": <USD per 1M>}}, '
            f"got {entry!r}"
        )
    values = [entry["input"], entry["output"]]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ConfigurationError(
            f"BILAN_PRICES[{model!r}] prices must be non-negative numbers, got {entry!r}"
        )
    return Price(float(values[0]), float(values[1]))


def price_table(overrides: str | Mapping[str, object] | None = None) -> dict[str, Price]:
    """The default prices with the overrides applied."""
    return {**DEFAULT_PRICES, **parse_price_overrides(overrides)}


def estimate_cost(
    prices: Mapping[str, Price], model: str, prompt_tokens: float, completion_tokens: float
) -> float:
    """Estimated USD for these token counts, NaN when the model has no price."""
    price = prices.get(model)
    if price is None:
        return math.nan
    return (
        prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million
    ) / TOKENS_PER_PRICE_UNIT
