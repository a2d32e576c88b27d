"""masked_url: the one way a URL is shown or logged; url_host: a URL's host without credentials."""

from __future__ import annotations

import pytest

from bilan_core.settings import load_settings
from bilan_core.urls import masked_url, url_host


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://TOKEN@host.example/v1", "https://***@host.example/v1"),
        ("postgresql+psycopg://bilan:hunter2@db:5432/b", "postgresql+psycopg://bilan:***@db:5432/b"),
        (
            "postgresql://u@db/b?sslpassword=pw&sslmode=require",
            "postgresql://***@db/b?sslpassword=***&sslmode=***",
        ),
        ("https://llm.example/v1?api-key=SECRET", "https://llm.example/v1?api-key=***"),
        ("https://t.example/c?token=abc#access_token=x", "https://t.example/c?token=***#***"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("sqlite:////tmp/bilan.db", "sqlite:////tmp/bilan.db"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://[::1/", "<invalid URL>"),
    ],
)
def test_masked_url_hides_userinfo_every_query_value_and_the_fragment(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_url_host_never_includes_credentials() -> None:
    assert url_host("https://TOKEN@llm.example:8443/v1?key=x") == "llm.example:8443"
    assert url_host("https://[::1/") == "unknown host"


def test_the_provider_recorded_on_turns_is_the_host_without_a_token() -> None:
    settings = load_settings(openai_base_url="https://sk-secret@llm.example/v1", telemetry=False)
    assert settings.provider_host == "llm.example"


def test_a_refused_url_setting_is_repeated_masked() -> None:
    with pytest.raises(ValueError) as caught:
        load_settings(endpoint="ftp://host.example/x?token=secret-token")
    assert "secret-token" not in str(caught.value) and "ftp://host.example/x?token=***" in str(caught.value)
