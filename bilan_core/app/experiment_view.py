"""The Experiments page's rules without Streamlit: variants from the form, the tables it shows, exports.

A variant row of the form is a name, a model, a stored prompt (``NAME vN``) or free messages (a system
prompt and a user template), and a temperature. The rating table is one row per cell, in the shape
``app.rating_grid.apply_ratings`` stores; the pairwise picker offers items both variants answered
that have no verdict yet.
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from bilan_core.analytics.csv_cells import frame_csv
from bilan_core.app.rating_grid import vote_label

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

FREE_MESSAGES = "(free messages)"
PROMPT_REF = re.compile(r"(?P<name>.+) v(?P<version>\d+)")
CHECK_WORDS = {True: "✅ pass", False: "❌ fail"}
RATING_COLUMNS = ["row", "item", "variant", "input", "answer", "vote", "comment", "check", "prompt_id"]


def prompt_choices(client: Bilan) -> list[str]:
    """The stored prompt versions to offer, ``NAME vN`` newest first per prompt, after free messages."""
    choices = [FREE_MESSAGES]
    for summary in client.list_prompts():
        choices.extend(f"{summary.name} v{number}" for number in range(summary.latest_version, 0, -1))
    return choices


def variant_from_form(
    client: Bilan,
    *,
    name: str,
    model: str | None,
    prompt: str,
    system: str,
    user: str,
    temperature: float | None,
) -> dict[str, Any]:
    """One variant's fields from a row of the form (a stored prompt version, or the free messages)."""
    fields: dict[str, Any] = {
        "name": name.strip() or None,
        "model": model or None,
        "temperature": temperature,
    }
    if prompt != FREE_MESSAGES:
        found = PROMPT_REF.fullmatch(prompt)
        if found is None:
            raise ValueError(f"unknown prompt choice {prompt!r}")
        fields["prompt"] = client.get_prompt(found["name"], version=int(found["version"]))
        return fields
    messages = [{"role": "system", "content": system}] if system.strip() else []
    if user.strip():
        messages.append({"role": "user", "content": user})
    fields["messages"] = messages or None
    return fields


def rating_table(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per cell for the rating grid: ``row`` numbered from 1 (as messages name it), the vote as
    ``👍 good``/``👎 bad``."""
    table = cells.assign(row=range(1, len(cells) + 1), variant=cells["variant"].astype(str))
    table["vote"] = pd.Series([vote_label(value) for value in cells["vote"]], index=table.index, dtype=object)
    table["check"] = cells["check"].map(CHECK_WORDS).astype(object)
    return table[RATING_COLUMNS]


def side_by_side(grid: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """The results grid's readable part: item, input, expected, then each variant's answer and check."""
    columns = ["item", "input", "expected"]
    for variant in variants:
        columns += [f"{variant}: answer", f"{variant}: check", f"{variant}: vote"]
    table = grid[columns].copy()
    table["expected"] = table["expected"].map(lambda value: None if value is None else json.dumps(value))
    for variant in variants:
        column = f"{variant}: vote"
        table[column] = pd.Series(
            [vote_label(value) for value in table[column]], index=table.index, dtype=object
        )
    return table


def readable_flips(flips: pd.DataFrame) -> pd.DataFrame:
    """The run-against-run flips with each vote as ``👍 good``/``👎 bad`` and each check as pass/fail."""
    table = flips.copy()
    for column in ("vote_a", "vote_b"):
        table[column] = pd.Series(
            [vote_label(value) for value in flips[column]], index=table.index, dtype=object
        )
    for column in ("check_a", "check_b"):
        table[column] = flips[column].map(CHECK_WORDS).astype(object)
    return table


def pair_items(cells: pd.DataFrame, first: str, second: str, decided: set[int]) -> list[int]:
    """Items where both variants answered and no pairwise verdict was given yet, in order."""
    answered = cells.dropna(subset=["answer", "prompt_id"])
    per_item = answered[answered["variant"].isin([first, second])].groupby("item")["variant"].nunique()
    return [item for item in per_item.index[per_item == 2].astype(int).tolist() if item not in decided]


def next_pair_item(cells: pd.DataFrame, first: str, second: str, decided: set[int]) -> int | None:
    """A random item still to compare (None when every one has a verdict)."""
    items = pair_items(cells, first, second, decided)
    return random.choice(items) if items else None


def results_csv(grid: pd.DataFrame) -> bytes:
    """The results grid as CSV through the product's formula-safe writer."""
    table = grid.assign(
        expected=grid["expected"].map(lambda value: None if value is None else json.dumps(value))
    )
    return frame_csv(table)


def cells_jsonl(cells: pd.DataFrame) -> bytes:
    """One JSON object per cell (item, variant, input, expected, answer, figures, vote, check)."""
    records = cells.assign(variant=cells["variant"].astype(str)).astype(object)
    records = records.where(records.notna(), None)
    return "".join(
        json.dumps(record, ensure_ascii=False) + "\n" for record in records.to_dict("records")
    ).encode()
