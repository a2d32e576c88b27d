"""``python -m bilan_core``: the command line. Each feature module adds its own subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from bilan_core.analytics.exports import add_export_command
from bilan_core.client.bilan import Bilan
from bilan_core.errors import BilanError
from bilan_core.experiments.batch_runs import add_batch_command
from bilan_core.server.cli import add_server_commands
from bilan_core.settings import load_settings
from bilan_core.store.demo_data import add_demo_data_command
from bilan_core.store.engine import get_engine, head_revision, schema_version


def add_stats_command(commands: argparse._SubParsersAction) -> None:
    """``stats``: the trust figures, with the same filters as ``get_stats``."""
    parser = commands.add_parser("stats", help="print trust statistics as JSON")
    parser.add_argument("--model")
    parser.add_argument("--user-id")
    parser.add_argument("--since", type=int, help="epoch milliseconds")
    parser.add_argument("--conversation-id")
    parser.add_argument("--variant")
    parser.add_argument("--team-session")
    parser.set_defaults(run=_run_stats)


def _run_stats(args: argparse.Namespace) -> int:
    stats = Bilan().get_stats(
        model=args.model,
        user_id=args.user_id,
        since=args.since,
        conversation_id=args.conversation_id,
        variant=args.variant,
        team_session=args.team_session,
    )
    print(json.dumps(stats.model_dump(), indent=2, ensure_ascii=False))
    return 0


def add_migrate_command(commands: argparse._SubParsersAction) -> None:
    """``migrate``: bring the database schema to the newest version."""
    parser = commands.add_parser("migrate", help="upgrade the database schema")
    parser.set_defaults(run=_run_migrate)


def _run_migrate(_args: argparse.Namespace) -> int:
    engine = get_engine(load_settings().database_url)
    print(f"database schema at {schema_version(engine)} (newest: {head_revision()})")
    return 0


COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_stats_command,
    add_migrate_command,
    add_server_commands,
    add_batch_command,
    add_demo_data_command,
    add_export_command,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="python -m bilan_core", description="Bilan for Python")
    commands = parser.add_subparsers(dest="command", required=True)
    for add_commands in COMMAND_GROUPS:
        add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are printed as one clear line and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (BilanError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
