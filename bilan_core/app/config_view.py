"""The configuration as shown to people: every setting, secrets hidden, URLs through ``masked_url``."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bilan_core.settings import BilanSettings
from bilan_core.urls import masked_url, url_host

HIDDEN = "set (hidden)"
NOT_SET = "not set"


@dataclass(frozen=True)
class ConfigRow:
    """One line of the configuration table: a label, its value as shown, and where it comes from."""

    label: str
    value: str
    setting: str


def _shown(value: object) -> str:
    if isinstance(value, SecretStr):
        return HIDDEN if value.get_secret_value() else NOT_SET
    if value is None or value == "":
        return NOT_SET
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or NOT_SET
    if isinstance(value, str) and "://" in value:
        return masked_url(value)
    return str(value)


def endpoint_host(base_url: str | None) -> str:
    """The host (and port) of the model endpoint, never its credentials; OpenAI's when none is set."""
    return url_host(base_url or "https://api.openai.com/v1")


def telemetry_state(settings: BilanSettings) -> str:
    """Whether anonymous counts are sent, and if not, which setting stops them (the table's
    ``BILAN_TELEMETRY = on`` alone sends nothing without an endpoint)."""
    if settings.telemetry_enabled:
        return f"on: anonymous counts go to {_shown(settings.telemetry_endpoint)}"
    if not settings.telemetry:
        return "off (BILAN_TELEMETRY is off)"
    if settings.do_not_track:
        return "off (DO_NOT_TRACK is set)"
    return "off: BILAN_TELEMETRY is on, but no BILAN_TELEMETRY_ENDPOINT is set, so nothing is sent"


def schema_state(status: str) -> str:
    """The schema revision as ``schema_status`` words it, with whether it is up to date and what to do."""
    if "newest known" in status:
        return f"{status}: out of date, run `python -m bilan_core migrate`"
    if status.startswith("empty database"):
        return f"{status}: run `python -m bilan_core migrate`"
    return f"{status} (up to date)"


def summary_rows(settings: BilanSettings, offered_models: list[str] | None = None) -> list[ConfigRow]:
    """The few facts people look for first: mode, database, model endpoint, the models the Playground
    offers (``offered_models``; the configured fallback list when not given), telemetry."""
    return [
        ConfigRow("Mode", settings.mode, "BILAN_MODE"),
        ConfigRow("Database", _shown(settings.database_url), "BILAN_DATABASE_URL"),
        ConfigRow(
            "Model endpoint",
            "offline demo model (no OPENAI_API_KEY / OPENAI_BASE_URL)"
            if settings.uses_demo_model
            else endpoint_host(settings.openai_base_url),
            "OPENAI_BASE_URL",
        ),
        ConfigRow("Default model", settings.chat_model, "BILAN_DEFAULT_MODEL"),
        ConfigRow(
            "Models offered",
            _shown(offered_models if offered_models is not None else settings.models),
            "BILAN_MODELS",
        ),
        ConfigRow("Telemetry", telemetry_state(settings), "BILAN_TELEMETRY"),
        ConfigRow(
            "Access password", "required" if settings.app_password else "none (open)", "BILAN_APP_PASSWORD"
        ),
    ]


def setting_rows(settings: BilanSettings) -> list[ConfigRow]:
    """Every setting under its environment name, secrets shown only as set / not set."""
    rows = []
    for name, field in BilanSettings.model_fields.items():
        env_name = str(field.validation_alias or name)
        rows.append(ConfigRow(env_name, _shown(getattr(settings, name)), env_name))
    return rows
