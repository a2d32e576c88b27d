"""``python -m bilan_core review report``: a review session's report as Markdown or CSV, in either mode."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPORT_FORMATS = ("md", "csv")


def add_review_command(commands: argparse._SubParsersAction) -> None:
    """``review report SESSION_ID --format md|csv [--output FILE]``."""
    parser = commands.add_parser("review", help="team review sessions")
    actions = parser.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help="a session's report: agreement, results, themes, disputes")
    report.add_argument("session_id", help="the review session's id")
    report.add_argument("--format", choices=REPORT_FORMATS, default="md", help="md (default) or csv")
    report.add_argument("--output", help="write to this file instead of standard output")
    report.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan

    client = Bilan()
    try:
        report = client.get_review_session(args.session_id).report()
    finally:
        client.close()
    data = report.markdown().encode("utf-8") if args.format == "md" else report.csv()
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote the report of {report.session.name!r} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0
