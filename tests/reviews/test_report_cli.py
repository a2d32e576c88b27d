"""``python -m bilan_core review report``: Markdown and CSV of a real session; a clear error for a bad id."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import bilan_core
from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.reviews.test_report import record_answers
from tests.test_cli import run_cli


def rated_session(sqlite_url: str) -> str:
    """A closed session of 4 answers, each 👍 by ann and 👎 by bob; its id."""
    client = Bilan(load_settings(database_url=sqlite_url, user_id="lead", telemetry=False))
    try:
        ids = record_answers(client, 4, model="gpt-4o", prefix="gpt")
        session = client.create_review_session("=cmd| week 48", prompt_ids=ids)
        for rater, vote in (("ann", 1), ("bob", -1)):
            session.join(rater)
            while (item := session.next_item(rater)) is not None:
                session.rate(item.item_id, rater, vote=vote, comment=f"{rater} says so")
        session.close()
        return session.id
    finally:
        client.close()


def test_markdown_to_stdout_and_csv_to_a_file(sqlite_url: str, tmp_path: Path) -> None:
    session_id = rated_session(sqlite_url)
    shown = run_cli("review", "report", session_id, database_url=sqlite_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("# Review report: \\=cmd\\| week 48")
    assert "| gpt\\-4o | 8 | 4 | 4 | 0.50 |" in shown.stdout
    target = tmp_path / "report.csv"
    written = run_cli(
        "review", "report", session_id, "--format", "csv", "--output", str(target), database_url=sqlite_url
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout == "" and str(target) in written.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    summary = {row["measure"]: row["value"] for row in rows if row["section"] == "summary"}
    assert summary["name"] == "'=cmd| week 48" and summary["ratings"] == "8"
    # Every item split ann against bob: all four are disputed.
    assert len([row for row in rows if row["section"] == "disputed"]) == 4


def test_an_unknown_session_is_a_clear_error(sqlite_url: str) -> None:
    for bad in ("no-such-session", ""):
        found = run_cli("review", "report", bad, database_url=sqlite_url)
        assert found.returncode == 2
        assert found.stderr.startswith("error: ") and "Traceback" not in found.stderr
    wrong_format = run_cli("review", "report", "x", "--format", "pdf", database_url=sqlite_url)
    assert wrong_format.returncode == 2 and "invalid choice" in wrong_format.stderr


def test_the_module_function_returns_the_typed_report(sqlite_url: str) -> None:
    session_id = rated_session(sqlite_url)
    bilan_core.init(database_url=sqlite_url, user_id="lead", telemetry=False)
    try:
        report = bilan_core.review_report(session_id)
    finally:
        bilan_core.close()
    assert isinstance(report, bilan_core.ReviewReport)
    assert (report.ratings, report.agreement.overall.judged) == (8, False)
    assert report.agreement.overall.note.startswith("too few overlapping ratings")
