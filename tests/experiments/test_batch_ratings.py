"""Rating batch results (votes from the table) and exporting them as CSV or fine-tuning JSONL."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from sqlmodel import Session, select

from bilan_core.app.rating_grid import apply_ratings, batch_rating_table, vote_label, vote_value, with_drafts
from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_runs import (
    batch_results,
    results_csv,
    results_finetune_jsonl,
    run_batch,
)
from bilan_core.store.batch_runs import BatchOptions
from bilan_core.store.models import Vote
from tests.experiments.batch_helpers import start_file, start_numbered


def test_results_can_be_rated_and_exported(client: Bilan) -> None:
    data = b'{"prompt": "Hi", "expected": "hello"}\n{"prompt": "Bye"}\n'
    run = start_file(client, data, file_name="p.jsonl")
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    client.vote(results["prompt_id"][0], -1, "wrong tone")
    rated = batch_results(client, run.id, user_id="alice")
    assert rated["vote"].tolist()[0] == -1 and rated["comment"].tolist()[0] == "wrong tone"
    assert pd.isna(rated["vote"].tolist()[1])
    exported = pd.read_csv(io.BytesIO(results_csv(rated)))
    assert exported["prompt"].tolist() == ["Hi", "Bye"]
    assert exported["meta.expected"].tolist()[0] == "hello"
    assert exported["comment"].tolist()[0] == "wrong tone"


def test_liked_rows_export_as_fine_tuning_jsonl_with_the_messages_sent(client: Bilan, openai_server) -> None:
    options = BatchOptions(model="gpt-4o", system_prompt="Be brief.", concurrency=1)  # asked in file order
    run = start_file(client, b"Fails\nLiked\nDisliked\nUnrated\n", options=options)
    openai_server.fail(500, "boom", times=1)
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    assert results["status"].tolist() == ["failed", "ok", "ok", "ok"]
    for position, value in ((0, 1), (1, 1), (2, -1)):  # a 👍 on a failed row has no answer to learn from
        client.vote(results["prompt_id"][position], value)
    rated = batch_results(client, run.id, user_id="alice")

    lines = [json.loads(line) for line in results_finetune_jsonl(rated, options).decode().splitlines()]
    assert lines == [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Liked"},
                {"role": "assistant", "content": rated["response"][1]},
            ]
        }
    ]
    assert rated["response"][1]
    assert results_finetune_jsonl(results, options) == b""  # nothing rated yet


def test_ratings_from_the_table_become_votes(client: Bilan) -> None:
    run = start_numbered(client, 5)
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    ids = results["prompt_id"].tolist()
    client.vote(ids[3], 1, "kept")
    outcome = apply_ratings(
        client,
        batch_rating_table(batch_results(client, run.id, user_id="alice")),
        {
            "0": {"vote": "👍 good", "comment": " clear "},
            1: {"vote": "👎"},  # the bare emoji (older tables) still reads
            2: {"comment": "no vote given"},
            3: {"vote": None},
            4: {"vote": "meh"},
        },
    )
    assert outcome.problems == ["row 5: a rating is 👍 good or 👎 bad, got 'meh'"]
    # The comment typed without a vote is kept as a draft; the vote taken back leaves its comment as one.
    assert outcome.drafts == {2: "no vote given", 3: "kept"} and outcome.saved == 2
    rated = batch_rating_table(batch_results(client, run.id, user_id="alice"))
    assert rated["vote"].tolist() == ["👍 good", "👎 bad", None, None, None]
    assert rated["comment"].tolist()[0] == "clear" and "metadata" not in rated
    assert rated.columns.tolist()[:5] == ["row", "prompt", "response", "vote", "comment"]
    assert rated["row"].tolist() == [1, 2, 3, 4, 5]  # as the messages above name them
    shown = with_drafts(rated, outcome.drafts)
    assert shown["comment"].tolist()[2:4] == ["no vote given", "kept"]
    # A vote chosen later saves the draft with it.
    assert apply_ratings(client, shown, {2: {"vote": "👍 good"}}).saved == 1
    # A comment edited alone keeps the stored vote, and a flipped vote keeps the comment.
    again = batch_rating_table(batch_results(client, run.id, user_id="alice"))
    assert apply_ratings(client, again, {1: {"comment": "too long"}}).problems == []
    flipped = apply_ratings(
        client, again.assign(comment=[None, "too long", None, None, None]), {1: {"vote": "👍 good"}}
    )
    assert flipped.saved == 1
    with Session(client.engine) as session:
        stored = {vote.prompt_id: (vote.value, vote.comment) for vote in session.exec(select(Vote)).all()}
    assert stored == {ids[0]: (1, "clear"), ids[1]: (1, "too long"), ids[2]: (1, "no vote given")}


def test_vote_cells_read_labels_emoji_and_numbers() -> None:
    assert [vote_value(cell) for cell in ("👍 good", "👎 bad", "👍", -1, 1.0, None, float("nan"))] == [
        1, -1, 1, -1, 1, None, None,
    ]  # fmt: skip
    assert [vote_label(value) for value in (1, -1.0, None, float("nan"))] == ["👍 good", "👎 bad", None, None]
    for bad in ("meh", 2, "good"):
        with pytest.raises(ValueError, match="a rating is 👍 good or 👎 bad"):
            vote_value(bad)


def test_ratings_on_unanswered_rows_and_other_columns_are_refused(client: Bilan) -> None:
    run = start_numbered(client, 2)
    results = batch_rating_table(batch_results(client, run.id, user_id="alice"))
    outcome = apply_ratings(client, results, {0: {"vote": "👍 good"}, 1: {"prompt": "changed"}})
    assert outcome.problems == [
        "row 1: this prompt has no answer yet; resume the run first",
        "row 2: only the vote and the comment can be changed, not prompt",
    ]
    assert (outcome.saved, outcome.drafts) == (0, {})


def test_the_export_numbers_rows_as_the_grid_and_writes_whole_votes_and_latency(client: Bilan) -> None:
    run = start_file(client, b"prompt,topic\nHi,greeting\nBye,farewell\n", file_name="p.csv")
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    client.vote(results["prompt_id"][0], 1)
    rated = batch_results(client, run.id, user_id="alice")
    text = results_csv(rated).decode("utf-8-sig")
    first, second = csv.DictReader(io.StringIO(text))
    assert text.split(",", 2)[:2] == ["row", "prompt"] and "position" not in first
    assert (first["row"], second["row"]) == ("1", "2")
    assert (first["vote"], second["vote"]) == ("1", "")  # a whole vote, not 1.0
    assert first["latency_ms"].isdigit() and int(first["latency_ms"]) == round(rated["latency_ms"][0])
    assert second["meta.topic"] == "farewell"
    # The grid shows the same numbering and the metadata too.
    grid = batch_rating_table(rated)
    assert grid["row"].tolist() == [1, 2] and grid["meta.topic"].tolist() == ["greeting", "farewell"]


def test_results_csv_writes_formula_cells_as_text(client: Bilan) -> None:
    line = b'{"prompt": "=HYPERLINK(\\"http://x\\")", "note": "@SUM(A1)"}\n'
    run = start_file(client, line, file_name="f.jsonl")
    run_batch(client, run.id)

    exported = pd.read_csv(io.BytesIO(results_csv(batch_results(client, run.id, user_id="alice"))))

    assert exported["prompt"].tolist() == ['\'=HYPERLINK("http://x")']
    assert exported["meta.note"].tolist() == ["'@SUM(A1)"]
