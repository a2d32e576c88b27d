"""``serve`` and ``keys`` subcommands of ``python -m bilan_core``."""

from __future__ import annotations

import argparse
import json
import socket

from bilan_core.server.api_keys import create_key, list_keys, revoke_key, set_project_capture
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine


def add_server_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``serve`` (run the server) and ``keys`` (create, list, revoke API keys)."""
    serve = commands.add_parser("serve", help="run the Bilan server (FastAPI on uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    serve.set_defaults(run=_run_serve)
    keys = commands.add_parser("keys", help="manage server API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key for a project (shown once)")
    create.add_argument("--project", required=True)
    create.add_argument(
        "--capture", help="the most the project's events keep: full, sanitized, metadata, none"
    )
    create.set_defaults(run=_run_keys_create)
    capture = actions.add_parser("capture", help="set the most a project's events keep (its capture level)")
    capture.add_argument("--project", required=True)
    capture.add_argument("level", help="full, sanitized, metadata or none")
    capture.set_defaults(run=_run_keys_capture)
    listing = actions.add_parser("list", help="list keys (prefixes only, never the secret)")
    listing.add_argument("--project")
    listing.set_defaults(run=_run_keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(run=_run_keys_revoke)


def _tcp_socket(sock: socket.socket) -> socket.socket:
    """The same listening socket, re-labelled with protocol IPPROTO_TCP.

    uvicorn binds the socket it shares with its worker processes as ``socket(family)`` (protocol 0);
    accepted connections inherit that, and asyncio sets TCP_NODELAY only on sockets whose protocol is
    IPPROTO_TCP. Without it a reply's body waits ~40 ms for the client's delayed ACK of its headers.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto == socket.IPPROTO_TCP:
        return sock
    relabelled = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    relabelled.set_inheritable(True)
    return relabelled


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    # Migrate once here, so that several workers do not all start by migrating.
    get_engine(load_settings().database_url)
    config = uvicorn.Config(
        "bilan_core.server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
    )
    if args.workers == 1:
        uvicorn.Server(config).run()
    else:
        Multiprocess(config, sockets=[_tcp_socket(config.bind_socket())]).run()
    return 0


def _run_keys_create(args: argparse.Namespace) -> int:
    created = create_key(get_engine(load_settings().database_url), project=args.project, capture=args.capture)
    print(
        f"API key for project {created.project!r} (id {created.id}, capture level {created.capture}); "
        "it is shown only this once:"
    )
    print(created.key)
    return 0


def _run_keys_capture(args: argparse.Namespace) -> int:
    engine = get_engine(load_settings().database_url)
    project = set_project_capture(engine, project=args.project, capture=args.level)
    print(f"project {project.name!r} now keeps at most the {project.max_capture!r} capture level")
    return 0


def _run_keys_list(args: argparse.Namespace) -> int:
    for key in list_keys(get_engine(load_settings().database_url), project=args.project):
        print(json.dumps(key.model_dump(), ensure_ascii=False))
    return 0


def _run_keys_revoke(args: argparse.Namespace) -> int:
    revoked = revoke_key(get_engine(load_settings().database_url), key_id=args.key_id)
    print(f"revoked key {revoked.id} ({revoked.prefix}…) of project {revoked.project!r}")
    return 0
