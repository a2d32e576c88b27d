"""PromptVersion values: placeholders, compiling, and the checks of a new version."""

from __future__ import annotations

import pytest

from bilan_core.errors import PromptTemplateError
from bilan_core.prompts.building import new_prompt_version
from bilan_core.prompts.version import PromptMessage, PromptVersion


def version(*contents: str) -> PromptVersion:
    messages = tuple(
        PromptMessage(role="system" if i == 0 else "user", content=c) for i, c in enumerate(contents)
    )
    return PromptVersion(name="support", version=3, messages=messages, author="ana", created_ms=1)


def test_variables_are_listed_once_in_order_of_first_use() -> None:
    prompt = version("You help {{ company }} customers in {{lang}}.", "{{question}} ({{company}})")
    assert prompt.variables == ["company", "lang", "question"]


def test_compile_fills_every_message_and_leaves_single_braces_and_values_alone() -> None:
    prompt = version('Answer as JSON {"a": 1} for {{company}}.', "{{question}}")
    assert prompt.compile(company="ACME", question="what is {{company}}?") == [
        {"role": "system", "content": 'Answer as JSON {"a": 1} for ACME.'},
        {"role": "user", "content": "what is {{company}}?"},
    ]


def test_compile_refuses_missing_and_unknown_variables_by_name() -> None:
    prompt = version("Hello {{name}} from {{city}}")
    with pytest.raises(PromptTemplateError, match=r"missing variable\(s\): city.*it takes: name, city"):
        prompt.compile(name="Ana")
    with pytest.raises(PromptTemplateError, match=r"unknown variable\(s\): colour"):
        prompt.compile(name="Ana", city="Porto", colour="red")
    with pytest.raises(PromptTemplateError, match="must be text or a number"):
        prompt.compile(name=["Ana"], city="Porto")


def test_a_version_is_frozen() -> None:
    prompt = version("Hi")
    with pytest.raises(ValueError, match="frozen"):
        prompt.version = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ("Hello {{name", "unclosed placeholder"),
        ("Hello name}} there", "unclosed placeholder"),
        ("Hello {{ first name }}", "not a variable name"),
        ("Hello {{1st}}", "not a variable name"),
        ("", "non-empty"),
        ([], "non-empty"),
        ([{"role": "robot", "content": "hi"}], "role 'robot'"),
        ([{"role": "user", "content": "hi", "extra": 1}], "exactly 'role' and 'content'"),
        ("bad \x00 text", "NUL"),
    ],
)
def test_broken_templates_are_refused_with_what_is_wrong(messages: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        new_prompt_version("support", messages, author="ana")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"params": {"temperature": 3}}, "temperature must be from 0.0 to 2.0"),
        ({"params": {"colour": "red"}}, r"unknown prompt parameter\(s\): colour"),
        ({"params": {"tools": "yes"}}, "tools must be bool"),
        ({"params": {"max_tokens": True}}, "max_tokens must be int"),
        ({"labels": ["staging", "staging"]}, r"given twice: staging"),
        ({"labels": ["latest"]}, "'latest' always points at the newest"),
        ({"name": " "}, "prompt name must be a non-empty string"),
    ],
)
def test_bad_fields_of_a_new_version_are_refused(arguments: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {"name": "support", **arguments}
    name = fields.pop("name")
    with pytest.raises(ValueError, match=problem):
        new_prompt_version(name, "Hi {{x}}", author="ana", **fields)  # type: ignore[arg-type]


def test_a_string_is_one_system_message() -> None:
    new = new_prompt_version("support", "Be brief.", author="ana", params={"temperature": 0, "tools": True})
    assert new.messages == [{"role": "system", "content": "Be brief."}]
    assert new.params == {"temperature": 0, "tools": True}
