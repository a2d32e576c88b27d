"""The public face: ``bilan_core.__all__`` is exactly the API documented in docs/api.md, and fully typed."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bilan_core

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
DOCUMENTED_NAME = re.compile(r"^### `([A-Za-z_]\w*)`", re.MULTILINE)


def documented_names() -> list[str]:
    """The names docs/api.md documents: one ``### `name` `` heading each."""
    return DOCUMENTED_NAME.findall(API_DOC.read_text(encoding="utf-8"))


def public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every function of ``__all__``, and every public method and property of its classes."""
    for name in bilan_core.__all__:
        value = getattr(bilan_core, name)
        if inspect.isclass(value):
            yield from _members(name, value)
        elif callable(value):
            yield name, value


def _members(class_name: str, cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    for klass in cls.__mro__:
        if not klass.__module__.startswith("bilan_core"):
            continue
        for attribute, member in vars(klass).items():
            if attribute.startswith("_") and attribute != "__init__":
                continue
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if inspect.isfunction(function) and function.__module__.startswith("bilan_core"):
                yield f"{class_name}.{attribute}", function


def missing_annotations(function: Callable[..., Any]) -> list[str]:
    """The parameters (and ``return``) of ``function`` without a type annotation."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    missing = [parameter.name for parameter in parameters if parameter.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_every_name_in_all_is_documented_and_every_documented_name_is_in_all() -> None:
    documented = documented_names()
    exported = set(bilan_core.__all__)

    assert len(documented) == len(set(documented)), "a name is documented twice in docs/api.md"
    assert sorted(exported - set(documented)) == [], "in __all__ but not documented in docs/api.md"
    assert sorted(set(documented) - exported) == [], "documented in docs/api.md but not in __all__"


def test_every_name_in_all_exists() -> None:
    absent = [name for name in bilan_core.__all__ if not hasattr(bilan_core, name)]
    assert absent == []


@pytest.mark.parametrize(
    ("name", "function"), [pytest.param(name, function, id=name) for name, function in public_callables()]
)
def test_every_public_callable_is_fully_annotated(name: str, function: Callable[..., Any]) -> None:
    assert missing_annotations(function) == [], f"{name} lacks annotations"


def library_classes(hint: object) -> Iterator[type]:
    """The bilan_core classes a type hint names, looking inside unions, generics and ``Unpack``."""
    if inspect.isclass(hint) and hint.__module__.startswith("bilan_core"):
        yield hint
    for argument in typing.get_args(hint):
        yield from library_classes(argument)


def test_every_type_the_module_functions_take_or_return_is_exported() -> None:
    # The module functions name their types only for type checkers (they load lazily), so the hints
    # are resolved against the public namespace: a type that is not exported fails to resolve too.
    public = {name: getattr(bilan_core, name) for name in bilan_core.__all__}
    exported = set(public.values())
    named = {
        (name, cls.__name__)
        for name in bilan_core.__all__
        if inspect.isfunction(function := getattr(bilan_core, name))
        for hint in typing.get_type_hints(function, localns=public).values()
        for cls in library_classes(hint)
        if cls not in exported
    }
    assert named == set(), "a public function takes or returns a type that bilan_core does not export"


def test_the_check_sees_the_module_functions_and_the_client_methods() -> None:
    names = {name for name, _ in public_callables()}
    assert {"create_chat_completion", "Bilan.create_chat_completion", "Bilan.vote", "Usage.from_sdk"} <= names


def test_the_chat_calls_are_typed_with_their_options_and_answers() -> None:
    signature = inspect.signature(bilan_core.create_chat_completion)
    assert str(signature.parameters["options"].annotation) == "Unpack[ChatOptions]"
    assert signature.return_annotation == "TrackedChatResponse"
    assert inspect.signature(bilan_core.route_model).return_annotation == "RouteDecision"


def test_importing_the_library_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, bilan_core\n"
        "print(','.join(m for m in ('pandas', 'numpy', 'alembic', 'openai', 'sqlalchemy', 'fastapi')"
        " if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert loaded.stdout.strip() == ""


def test_every_lazy_name_loads() -> None:
    for name in bilan_core.__all__:
        assert getattr(bilan_core, name) is not None
    assert set(bilan_core.__all__) <= set(dir(bilan_core))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bilan_core.nope  # noqa: B018
