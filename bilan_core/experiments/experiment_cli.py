"""``python -m bilan_core experiment``: import a dataset, run an experiment, show or resume a run.

A ``--variant`` SPEC is a JSON object (the fields of ``ExperimentVariant``) or ``key=value`` pairs joined
by commas: ``name``, ``model``, ``system`` (a system prompt; it may hold commas), ``user`` (a user
template), ``temperature``, ``max_tokens`` and ``prompt`` (``NAME``, ``NAME@LABEL`` or ``NAME:VERSION``
of a stored prompt).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan
    from bilan_core.experiments.batch_runs import BatchProgress
    from bilan_core.experiments.experiment_runs import ExperimentRun

SPEC_KEYS = ("name", "model", "system", "user", "temperature", "max_tokens", "prompt")
SPEC_SPLIT = re.compile(rf",(?=\s*(?:{'|'.join(SPEC_KEYS)})=)")


def add_experiment_command(commands: argparse._SubParsersAction) -> None:
    """``experiment run | show | resume | import-dataset``."""
    parser = commands.add_parser("experiment", help="run a dataset through several variants and compare them")
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run every item of a dataset through every variant")
    run.add_argument("--dataset", required=True, help="the dataset's name")
    run.add_argument("--variant", action="append", required=True, metavar="SPEC", help="a variant (repeat)")
    run.add_argument("--concurrency", type=int, default=8, help="calls at once (default 8)")
    run.add_argument("--name", help="the experiment's name (default: dataset × variants)")
    run.set_defaults(run=_run)
    show = actions.add_parser("show", help="print a run's summary per variant")
    show.add_argument("run_id")
    show.set_defaults(run=_show)
    resume = actions.add_parser("resume", help="answer the cells of a run still pending")
    resume.add_argument("run_id")
    resume.set_defaults(run=_resume)
    load = actions.add_parser("import-dataset", help="create a dataset from a CSV, JSONL or TXT file")
    load.add_argument("name")
    load.add_argument("file")
    load.add_argument("--description")
    load.set_defaults(run=_import)


def parse_variant(spec: str, client: Bilan) -> dict[str, Any]:
    """One ``--variant`` SPEC as the fields of an ``ExperimentVariant``."""
    if spec.lstrip().startswith("{"):
        try:
            fields = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--variant {spec[:60]!r} is not valid JSON: {exc.msg}") from None
        if not isinstance(fields, dict):
            raise ValueError("a JSON --variant must be an object")
    else:
        fields = dict(_pair(part, spec) for part in SPEC_SPLIT.split(spec))
    messages = [{"role": role, "content": fields.pop(role)} for role in ("system", "user") if role in fields]
    if messages:
        fields["messages"] = messages
    for key, kind in (("temperature", float), ("max_tokens", int)):
        if isinstance(fields.get(key), str):
            fields[key] = _number(key, fields[key], kind)
    if isinstance(fields.get("prompt"), str):
        fields["prompt"] = _stored_prompt(client, fields["prompt"])
    return fields


def _pair(part: str, spec: str) -> tuple[str, str]:
    key, equals, value = part.partition("=")
    key = key.strip()
    if not equals or key not in SPEC_KEYS:
        keys = ", ".join(SPEC_KEYS)
        raise ValueError(f"--variant {spec[:60]!r}: expected key=value pairs with the keys {keys}")
    return key, value.strip()


def _number(key: str, text: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(text)
    except ValueError:
        wanted = "number" if kind is float else "whole number"
        raise ValueError(f"--variant {key}={text!r} is not a {wanted}") from None


def _stored_prompt(client: Bilan, reference: str) -> Any:
    name, at, label = reference.partition("@")
    if at:
        return client.get_prompt(name, label=label)
    name, colon, version = reference.partition(":")
    if colon:
        return client.get_prompt(name, version=int(_number("prompt version", version, int)))
    return client.get_prompt(name)


def _run(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan
    from bilan_core.experiments.experiment_runs import resume_experiment, start_experiment

    client = Bilan()
    try:
        variants = [parse_variant(spec, client) for spec in args.variant]
        run = start_experiment(client, args.dataset, variants, name=args.name, concurrency=args.concurrency)
        print(f"experiment {run.id}: {run.run.total} cells of {run.settings.dataset}", file=sys.stderr)
        return _finish(lambda: resume_experiment(client, run.id, on_progress=_print_progress), run.id)
    finally:
        client.close()


def _resume(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan
    from bilan_core.experiments.experiment_runs import get_experiment, resume_experiment

    client = Bilan()
    try:
        get_experiment(client, args.run_id)
        run_id = args.run_id
        return _finish(lambda: resume_experiment(client, run_id, on_progress=_print_progress), run_id)
    finally:
        client.close()


def _finish(answer: Any, run_id: str) -> int:
    try:
        final: ExperimentRun = answer()
    except KeyboardInterrupt:
        print(f"\ninterrupted; resume with: python -m bilan_core experiment resume {run_id}", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    _print_summary(final)
    return 0 if final.run.failed == 0 else 1


def _show(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan
    from bilan_core.experiments.experiment_runs import get_experiment

    client = Bilan()
    try:
        _print_summary(get_experiment(client, args.run_id))
    finally:
        client.close()
    return 0


def _print_summary(run: ExperimentRun) -> None:
    stored = run.run
    print(f"{stored.file_name} ({stored.id}) {stored.status}: {stored.succeeded} ok, {stored.failed} failed")
    print(run.summary().to_string(index=False))
    agreement = run.check_vote_agreement()
    if agreement is not None:
        print(f"checks and votes agree on {agreement:.0%} of the cells that have both")


def _import(args: argparse.Namespace) -> int:
    from bilan_core.client.bilan import Bilan
    from bilan_core.experiments.datasets import import_dataset

    client = Bilan()
    try:
        dataset = import_dataset(client, args.name, args.file, description=args.description)
    finally:
        client.close()
    print(f"dataset {dataset.name}: {dataset.size} items")
    return 0


def _print_progress(progress: BatchProgress) -> None:
    print(f"\r{progress.describe():<70}", end="", file=sys.stderr, flush=True)
