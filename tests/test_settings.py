"""The settings object: defaults, environment, .env, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilan_core import ConfigurationError, init, load_settings
from bilan_core.settings import DEMO_MODEL


def test_defaults_are_local_mode_anonymous_user_sqlite_file_and_the_demo_model(
    isolated_environment: Path,
) -> None:
    settings = load_settings()
    assert (settings.mode, settings.user_id) == ("local", "anonymous")
    assert settings.database_url == f"sqlite:///{(isolated_environment / 'bilan.db').resolve()}"
    assert settings.uses_demo_model and settings.chat_model == DEMO_MODEL
    assert settings.provider_host == "demo"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_ID", "carol")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("BILAN_MODELS", "llama3, qwen2")
    settings = load_settings()
    assert settings.user_id == "carol"
    assert not settings.uses_demo_model
    assert settings.provider_host == "127.0.0.1:11434"
    assert settings.models == ["llama3", "qwen2"] and settings.chat_model == "llama3"


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("USER_ID=dave\nOPENAI_API_KEY=sk-test-from-dotenv\n")
    settings = load_settings()
    assert settings.user_id == "dave"
    assert settings.openai_api_key is not None
    assert "sk-test-from-dotenv" not in repr(settings)


def test_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_ID", "carol")
    assert load_settings(user_id="erin").user_id == "erin"


def test_server_mode_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILAN_MODE", "server")
    with pytest.raises(ConfigurationError, match="BILAN_API_KEY"):
        load_settings()
    with pytest.raises(ConfigurationError, match="BILAN_API_KEY"):
        init(mode="server")


def test_an_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="BILAN_MODE"):
        load_settings(mode="cloud")


def test_an_unknown_keyword_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown setting"):
        load_settings(databse_url="sqlite://")


def test_a_bad_database_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid database URL"):
        init(database_url="not a url")


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({}, False),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t"}, True),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "BILAN_TELEMETRY": "false"}, False),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "DO_NOT_TRACK": "1"}, False),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "DO_NOT_TRACK": "2"}, False),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "DO_NOT_TRACK": "yes please"}, False),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "DO_NOT_TRACK": "0"}, True),
        ({"BILAN_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/t", "DO_NOT_TRACK": "False"}, True),
    ],
)
def test_telemetry_needs_an_endpoint_and_obeys_both_opt_outs(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], enabled: bool
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert load_settings().telemetry_enabled is enabled


@pytest.mark.parametrize("name", ["api_key", "openai_api_key", "app_password"])
def test_an_invalid_secret_is_named_but_never_repeated_in_the_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match="valid string") as caught:
        load_settings(**{name: 987654321})
    assert "hidden value" in str(caught.value) and "987654321" not in str(caught.value)


def test_an_empty_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DO_NOT_TRACK", "BILAN_TELEMETRY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "BILAN_MODE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("BILAN_TELEMETRY_ENDPOINT", "http://127.0.0.1:9/t")
    settings = load_settings()
    assert (settings.do_not_track, settings.telemetry, settings.mode) == (False, True, "local")
    assert settings.uses_demo_model and settings.telemetry_enabled


@pytest.mark.parametrize("name", ["endpoint", "openai_base_url", "telemetry_endpoint"])
@pytest.mark.parametrize("url", ["nope", "ftp://host/x", "http://", "127.0.0.1:8000"])
def test_a_url_setting_that_is_not_an_http_url_is_a_clear_error(name: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"must be an http:// or https:// URL with a host"):
        load_settings(**{name: url})


def test_a_bad_url_with_a_password_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigurationError, match="BILAN_ENDPOINT") as caught:
        load_settings(endpoint="htp://bob:hunter2@bilan.example")
    assert "hunter2" not in str(caught.value)
    assert (
        load_settings(endpoint=" https://bob:pw@bilan.example/ ").endpoint == "https://bob:pw@bilan.example/"
    )


def test_a_user_id_longer_than_its_column_is_a_clear_error() -> None:
    assert load_settings(user_id="u" * 200).user_id == "u" * 200
    with pytest.raises(ConfigurationError, match="USER_ID is longer than 200 characters"):
        load_settings(user_id="u" * 201)


def test_the_data_folder_is_a_setting_and_the_default_database_lives_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILAN_DATA_DIR", str(tmp_path / "from-env"))
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.database_url == f"sqlite:///{(tmp_path / 'from-env' / 'bilan.db').resolve()}"
    chosen = load_settings(data_dir=tmp_path / "chosen")
    assert chosen.database_url == f"sqlite:///{(tmp_path / 'chosen' / 'bilan.db').resolve()}"
    explicit = load_settings(data_dir=tmp_path / "chosen", database_url="sqlite:///elsewhere.db")
    assert (explicit.data_dir, explicit.database_url) == (tmp_path / "chosen", "sqlite:///elsewhere.db")


def test_without_a_data_folder_the_working_folder_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILAN_DATA_DIR")
    settings = load_settings()
    assert settings.data_dir == Path(".")
    assert settings.database_url == f"sqlite:///{Path('bilan.db').resolve()}"
