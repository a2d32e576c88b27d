"""``prune`` and ``forget``: the retention and forget-a-user commands of ``python -m bilan_core``.

``prune`` works on the database at ``BILAN_DATABASE_URL`` (run it where the data is: on a server's host
for a server's database). ``forget`` goes through the client, so in server mode it empties the outbox of
the user and asks the server; with ``--project`` it works on the database directly, for a server's admin.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bilan_core.errors import BilanError
from bilan_core.limits import check_label, check_retention_days
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.forget import forget_user
from bilan_core.store.project_rows import project_id_named
from bilan_core.store.removal import RemovalReport
from bilan_core.store.retention import PRUNE_NEVER, cutoff_ms, prune, prune_exclusively


def add_privacy_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``prune`` (delete old data) and ``forget`` (delete one user's data)."""
    pruning = commands.add_parser("prune", help="delete turns, votes, comments and events older than N days")
    pruning.add_argument("--days", type=int, help="how old data may get (default: BILAN_RETENTION_DAYS)")
    pruning.add_argument("--project", help="only this server project (default: every project)")
    pruning.add_argument("--dry-run", action="store_true", help="print what would go; delete nothing")
    pruning.set_defaults(run=_run_prune)
    forgetting = commands.add_parser("forget", help="delete everything stored of one user")
    forgetting.add_argument("--user", required=True, help="the user id to forget")
    forgetting.add_argument("--project", help="a server project, forgotten in the database directly")
    forgetting.set_defaults(run=_run_forget)


def _run_prune(args: argparse.Namespace) -> int:
    settings = load_settings()
    days = args.days if args.days is not None else settings.retention_days
    if days is None:
        raise ValueError("say how old data may get: --days N, or set BILAN_RETENTION_DAYS")
    days = check_retention_days("--days", days)
    engine = get_engine(settings.database_url)
    project_id = project_id_named(engine, args.project) if args.project is not None else None
    since = datetime.fromtimestamp(cutoff_ms(days) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.dry_run:
        report = prune(engine, days=days, project_id=project_id, dry_run=True)
        _print(
            f"would delete what is older than {since} ({days} days); nothing was deleted:",
            report,
            PRUNE_NEVER,
        )
        return 0
    pruned = prune_exclusively(engine, days=days, project_id=project_id)
    if pruned is None:
        raise BilanError("another process is pruning this database now; try again when it is done")
    _print(f"deleted what was older than {since} ({days} days):", pruned, PRUNE_NEVER)
    return 0


def _run_forget(args: argparse.Namespace) -> int:
    user_id = check_label("--user", args.user)
    if args.project is not None:
        engine = get_engine(load_settings().database_url)
        report = forget_user(engine, user_id=user_id, project_id=project_id_named(engine, args.project))
    else:
        from bilan_core.client.bilan import Bilan

        client = Bilan()
        try:
            report = client.forget_user(user_id)
        finally:
            client.close()
    _print(f"forgot user {user_id!r}:", report, frozenset())
    return 0


def _print(heading: str, report: RemovalReport, leave_out: frozenset[str]) -> None:
    print(heading)
    for line in report.lines(leave_out=leave_out):
        print(f"  {line}")
