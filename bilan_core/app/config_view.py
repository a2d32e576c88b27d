"""The effective configuration as shown to people: every setting, with secrets and URL passwords masked."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bilan_core.settings import BilanSettings

HIDDEN = "set (hidden)"
NOT_SET = "not set"
MASK = "***"


@dataclass(frozen=True)
class ConfigRow:
    """One line of the configuration table: a label, its value as shown, and where it comes from."""

    label: str
    value: str
    setting: str


def mask_url(url: str | None) -> str | None:
    """``url`` with any password replaced by ``***`` (database URLs and http(s) URLs alike)."""
    if not url:
        return url
    try:
        parsed = make_url(url)
    except Exception:
        return _mask_generic_url(url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def _mask_generic_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


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
        return mask_url(value) or NOT_SET
    return str(value)


def endpoint_host(base_url: str | None) -> str:
    """The host (and port) of the model endpoint, never its credentials; OpenAI's when none is set."""
    parts = urlsplit(base_url or "https://api.openai.com/v1")
    host = parts.hostname or "unknown host"
    return f"{host}:{parts.port}" if parts.port else host


def summary_rows(settings: BilanSettings) -> list[ConfigRow]:
    """The few facts people look for first: mode, database, model endpoint, models, telemetry."""
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
        ConfigRow("Models", _shown(settings.models), "BILAN_MODELS"),
        ConfigRow("Telemetry", "on" if settings.telemetry_enabled else "off", "BILAN_TELEMETRY"),
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
