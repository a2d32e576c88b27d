"""Rating batch results (votes from the table) and exporting them as CSV or fine-tuning JSONL."""

from __future__ import annotations

import io
import json

import pandas as pd
from sqlmodel import Session, select

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_runs import (
    apply_ratings,
    batch_results,
    rating_table,
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
    problems = apply_ratings(
        client,
        results,
        {
            "0": {"vote": "👍", "comment": " clear "},
            1: {"vote": "👎"},
            2: {"comment": "no vote given"},
            3: {"vote": None},
            4: {"vote": "meh"},
        },
    )
    assert problems == [
        "row 3: choose 👍 or 👎 to go with the comment",
        "row 5: a rating is 👍 or 👎, got 'meh'",
    ]
    rated = rating_table(batch_results(client, run.id, user_id="alice"))
    assert rated["vote"].tolist() == ["👍", "👎", None, None, None]
    assert rated["comment"].tolist()[0] == "clear" and "metadata" not in rated
    assert rated.columns.tolist()[:5] == ["row", "prompt", "response", "vote", "comment"]
    assert rated["row"].tolist() == [1, 2, 3, 4, 5]  # as the messages above name them
    # A comment edited alone keeps the stored vote.
    again = batch_results(client, run.id, user_id="alice")
    assert apply_ratings(client, again, {1: {"comment": "too long"}}) == []
    with Session(client.engine) as session:
        vote = session.exec(select(Vote).where(Vote.prompt_id == ids[1])).one()
    assert (vote.value, vote.comment) == (-1, "too long")


def test_ratings_on_unanswered_rows_and_other_columns_are_refused(client: Bilan) -> None:
    run = start_numbered(client, 2)
    results = batch_results(client, run.id, user_id="alice")
    problems = apply_ratings(client, results, {0: {"vote": "👍"}, 1: {"prompt": "changed"}})
    assert problems == [
        "row 1: this prompt has no answer yet; resume the run first",
        "row 2: only the vote and the comment can be changed, not prompt",
    ]


def test_results_csv_writes_formula_cells_as_text(client: Bilan) -> None:
    line = b'{"prompt": "=HYPERLINK(\\"http://x\\")", "note": "@SUM(A1)"}\n'
    run = start_file(client, line, file_name="f.jsonl")
    run_batch(client, run.id)

    exported = pd.read_csv(io.BytesIO(results_csv(batch_results(client, run.id, user_id="alice"))))

    assert exported["prompt"].tolist() == ['\'=HYPERLINK("http://x")']
    assert exported["meta.note"].tolist() == ["'@SUM(A1)"]
