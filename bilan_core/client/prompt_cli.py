"""``python -m bilan_core prompts list | show | push | label``: versioned prompts from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bilan_core.client.bilan import Bilan
from bilan_core.prompts.building import new_prompt_version

PUSH_FIELDS = {"name", "messages", "model", "params", "labels", "note"}
MAX_FILE_BYTES = 10_000_000


def add_prompts_command(commands: argparse._SubParsersAction) -> None:
    """``prompts``: list, show, push and label prompt versions."""
    parser = commands.add_parser("prompts", help="list, show, push and label versioned prompts")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every prompt with its newest version and labels").set_defaults(run=_list)
    show = actions.add_parser("show", help="one version as JSON (default: the production label)")
    show.add_argument("name")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="this version number")
    which.add_argument("--label", help="the version this label points at")
    show.set_defaults(run=_show)
    push = actions.add_parser("push", help="save new versions from a .json or .yaml file")
    push.add_argument("file", type=Path)
    push.set_defaults(run=_push)
    label = actions.add_parser("label", help="point a label at a version")
    label.add_argument("name")
    label.add_argument("version", type=int)
    label.add_argument("label")
    label.set_defaults(run=_label)


def _list(_args: argparse.Namespace) -> int:
    summaries = Bilan().list_prompts()
    if not summaries:
        print("no prompts yet: push one with `python -m bilan_core prompts push FILE`")
    for summary in summaries:
        labels = ", ".join(f"{label}=v{version}" for label, version in summary.labels.items())
        print(f"{summary.name}\tv{summary.latest_version}\t{summary.versions} version(s)\t{labels}")
    return 0


def _show(args: argparse.Namespace) -> int:
    found = Bilan().get_prompt(args.name, version=args.version, label=args.label)
    print(json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0


def _push(args: argparse.Namespace) -> int:
    entries = read_prompt_file(args.file)
    client = Bilan()
    for entry in entries:  # every entry checked before the first is stored
        new_prompt_version(entry.get("name"), entry.get("messages"), author=client.user_id, **_options(entry))
    for entry in entries:
        saved = client.create_prompt(entry["name"], entry["messages"], **_options(entry))
        print(f"saved {saved.name} v{saved.version} ({', '.join(saved.labels)})")
    return 0


def _label(args: argparse.Namespace) -> int:
    moved = Bilan().set_prompt_label(args.name, args.version, args.label)
    print(f"{args.label} now points at {moved.name} v{moved.version}")
    return 0


def _options(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": entry.get("model"),
        "params": entry.get("params"),
        "labels": entry.get("labels") or (),
        "note": entry.get("note"),
    }


def read_prompt_file(path: Path) -> list[dict[str, Any]]:
    """The prompts of a ``.json`` or ``.yaml`` file (one mapping or a list); ValueError naming a problem."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ValueError(f"{path.name}: a prompt file is .json or .yaml, not {suffix or 'without a suffix'}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is over {MAX_FILE_BYTES:,} bytes")
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if suffix == ".json" else _yaml(text)
    entries = loaded if isinstance(loaded, list) else [loaded]
    if not entries:
        raise ValueError(f"{path.name} holds no prompt")
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "name" not in entry or "messages" not in entry:
            raise ValueError(f"{path.name}: prompt {position} must be a mapping with 'name' and 'messages'")
        unknown = sorted(set(entry) - PUSH_FIELDS)
        if unknown:
            raise ValueError(
                f"{path.name}: prompt {position} has unknown field(s): {', '.join(map(str, unknown))}"
            )
    names = [entry["name"] for entry in entries]
    repeated = sorted({str(name) for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path.name}: prompt name(s) given twice: {', '.join(repeated)}")
    return entries


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
