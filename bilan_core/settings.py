"""One settings object, read from keyword arguments, the environment and a ``.env`` file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from bilan_core.errors import ConfigurationError
from bilan_core.limits import MAX_LABEL_LENGTH, MAX_RETENTION_DAYS, check_label_bytes, check_storable
from bilan_core.privacy.levels import CaptureLevel, check_capture_level
from bilan_core.urls import masked_url, url_host

if TYPE_CHECKING:
    from bilan_core.privacy.capture import CapturePolicy

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1")
DEMO_MODEL = "bilan-demo"
MIN_CAPTURE_KEY_LENGTH = 16


def default_database_url(data_dir: Path) -> str:
    """The embedded default: ``bilan.db`` in the data folder."""
    return f"sqlite:///{(data_dir / 'bilan.db').resolve()}"


class BilanSettings(BaseSettings):
    """Every setting Bilan reads; the README lists each one."""

    # An empty variable (``export DO_NOT_TRACK=``) means "not set", not an invalid value.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    mode: Literal["local", "server"] = Field("local", validation_alias="BILAN_MODE")
    api_key: SecretStr | None = Field(None, validation_alias="BILAN_API_KEY")
    endpoint: str | None = Field(None, validation_alias="BILAN_ENDPOINT")
    user_id: str = Field("anonymous", validation_alias="USER_ID")
    telemetry: bool = Field(True, validation_alias="BILAN_TELEMETRY")
    telemetry_endpoint: str | None = Field(None, validation_alias="BILAN_TELEMETRY_ENDPOINT")
    do_not_track: bool = Field(False, validation_alias="DO_NOT_TRACK")
    # The folder for Bilan's own files (the database by default, the outbox, batch files); fields are
    # validated in order, so ``database_url``'s default can read it.
    data_dir: Path = Field(Path("."), validation_alias="BILAN_DATA_DIR")
    database_url: str = Field(
        default_factory=lambda data: default_database_url(data.get("data_dir", Path("."))),
        validation_alias="BILAN_DATABASE_URL",
    )
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    default_model: str | None = Field(None, validation_alias="BILAN_DEFAULT_MODEL")
    models: Annotated[list[str], NoDecode] = Field(list(DEFAULT_MODELS), validation_alias="BILAN_MODELS")
    max_retries: int = Field(2, ge=0, le=10, validation_alias="BILAN_MAX_RETRIES")
    timeout: float = Field(60.0, gt=0, validation_alias="BILAN_TIMEOUT")
    app_password: SecretStr | None = Field(None, validation_alias="BILAN_APP_PASSWORD")
    outbox_path: Path | None = Field(None, validation_alias="BILAN_OUTBOX_PATH")
    batch_size: int = Field(100, ge=1, le=1000, validation_alias="BILAN_BATCH_SIZE")
    batch_interval: float = Field(2.0, gt=0, le=3600, validation_alias="BILAN_BATCH_INTERVAL")
    rate_limit: float = Field(100.0, ge=0, validation_alias="BILAN_RATE_LIMIT")
    rate_limit_burst: int = Field(200, ge=1, validation_alias="BILAN_RATE_LIMIT_BURST")
    redis_url: SecretStr | None = Field(None, validation_alias="BILAN_REDIS_URL")
    max_body_bytes: int = Field(10_000_000, ge=1024, validation_alias="BILAN_MAX_BODY_BYTES")
    prices: str | None = Field(None, validation_alias="BILAN_PRICES")
    batch_max_file_bytes: int = Field(10_000_000, ge=1, validation_alias="BILAN_BATCH_MAX_FILE_BYTES")
    batch_concurrency: int = Field(8, ge=1, le=256, validation_alias="BILAN_BATCH_CONCURRENCY")
    leaderboard_min_votes: int = Field(10, ge=1, validation_alias="BILAN_LEADERBOARD_MIN_VOTES")
    route_strong_model: str | None = Field(None, validation_alias="BILAN_ROUTE_STRONG_MODEL")
    route_threshold: float = Field(0.7, ge=0, le=1, validation_alias="BILAN_ROUTE_THRESHOLD")
    route_window_days: float = Field(7.0, gt=0, validation_alias="BILAN_ROUTE_WINDOW_DAYS")
    route_min_votes: int = Field(20, ge=1, validation_alias="BILAN_ROUTE_MIN_VOTES")
    demo_stream_delay: float = Field(0.04, ge=0, le=2, validation_alias="BILAN_DEMO_STREAM_DELAY")
    prompt_cache_seconds: float = Field(60.0, ge=0, le=86_400, validation_alias="BILAN_PROMPT_CACHE_SECONDS")
    retention_days: int | None = Field(
        None, ge=1, le=MAX_RETENTION_DAYS, validation_alias="BILAN_RETENTION_DAYS"
    )
    capture: CaptureLevel = Field("full", validation_alias="BILAN_CAPTURE")
    redact_patterns: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, validation_alias="BILAN_REDACT_PATTERNS"
    )
    capture_key: SecretStr | None = Field(None, validation_alias="BILAN_CAPTURE_KEY")

    @field_validator("models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("do_not_track", mode="before")
    @classmethod
    def _do_not_track_convention(cls, value: object) -> object:
        # The convention (consoledonottrack.com): any value but "0" or "false" says no.
        if isinstance(value, str):
            return value.strip().lower() not in ("", "0", "false")
        return value

    @field_validator("capture", mode="before")
    @classmethod
    def _capture_level(cls, value: object) -> str:
        return check_capture_level(value)

    @field_validator("redact_patterns", mode="before")
    @classmethod
    def _redact_patterns(cls, value: object) -> dict[str, str]:
        from bilan_core.privacy.redaction import parse_user_patterns

        try:
            return parse_user_patterns(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from exc

    @field_validator("capture_key")
    @classmethod
    def _capture_key_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_CAPTURE_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_CAPTURE_KEY_LENGTH} characters (a random secret)")
        return value

    @field_validator("prices")
    @classmethod
    def _prices_are_valid(cls, value: str | None) -> str | None:
        from bilan_core.pricing import parse_price_overrides

        parse_price_overrides(value)
        return value

    @field_validator("endpoint", "openai_base_url", "telemetry_endpoint")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000")
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _is_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        scheme = urlsplit(value.get_secret_value().strip()).scheme
        if scheme not in ("redis", "rediss", "unix"):
            # The URL may hold a password: name the scheme only.
            raise ValueError(f"must be a redis://, rediss:// or unix:// URL, not {scheme or 'no'} scheme")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("user_id")
    @classmethod
    def _user_id_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("USER_ID must not be empty")
        if len(value) > MAX_LABEL_LENGTH:
            raise ValueError(f"USER_ID is longer than {MAX_LABEL_LENGTH} characters")
        check_storable("USER_ID", value)
        return check_label_bytes("USER_ID", value)

    @model_validator(mode="after")
    def _server_mode_needs_key(self) -> BilanSettings:
        if self.mode == "server" and (self.api_key is None or not self.api_key.get_secret_value()):
            raise ValueError("server mode needs an API key: set BILAN_API_KEY or pass api_key=")
        return self

    @property
    def uses_demo_model(self) -> bool:
        """True when no OpenAI key or base URL is set, so the offline demo model answers."""
        return self.openai_api_key is None and not self.openai_base_url

    @property
    def telemetry_enabled(self) -> bool:
        """Telemetry is sent only when on, not vetoed by DO_NOT_TRACK, and an endpoint is set."""
        return self.telemetry and not self.do_not_track and bool(self.telemetry_endpoint)

    @property
    def provider_host(self) -> str:
        """The host that answers chat calls, for display and for the turn's ``provider``."""
        if self.uses_demo_model:
            return "demo"
        return url_host(self.openai_base_url or "https://api.openai.com/v1")

    def capture_policy(self, level: str | None = None) -> CapturePolicy:
        """The capture policy at ``level`` (default: ``BILAN_CAPTURE``) with these patterns and key."""
        from bilan_core.privacy.capture import CapturePolicy

        key = self.capture_key.get_secret_value() if self.capture_key else None
        return CapturePolicy.build(
            level or self.capture, patterns=self.redact_patterns, key=key, data_dir=self.data_dir
        )

    @property
    def chat_model(self) -> str:
        """The model used when a call names none."""
        if self.default_model:
            return self.default_model
        return DEMO_MODEL if self.uses_demo_model else self.models[0]


def load_settings(**overrides: object) -> BilanSettings:
    """Build settings from the environment, with keyword overrides that are not None."""
    given: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    unknown = set(given) - set(BilanSettings.model_fields)
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    try:
        return BilanSettings(**given)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid Bilan configuration: {_describe(exc)}") from exc
    except SettingsError as exc:
        raise ConfigurationError(f"invalid Bilan configuration: {exc}") from exc


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        if not item["loc"]:
            problems.append(item["msg"].removeprefix("Value error, "))
            continue
        field = _field_name(str(item["loc"][0]))
        info = BilanSettings.model_fields.get(field)
        name = info.validation_alias if info and isinstance(info.validation_alias, str) else field
        given = item.get("input")
        shown = "a hidden value" if _is_secret(field) else repr(_masked_input(given))
        problems.append(f"{name}: {item['msg']} (got {shown})")
    return "; ".join(problems)


def _masked_input(given: object) -> object:
    """A refused value as an error may repeat it: a URL (which may hold a token) through ``masked_url``."""
    if isinstance(given, str) and "://" in given:
        return masked_url(given)
    return "<hidden: it may hold a token>" if isinstance(given, str) and "@" in given else given


def _field_name(where: str) -> str:
    """The field an error is about: a value read from the environment is reported under its variable."""
    for name, info in BilanSettings.model_fields.items():
        if info.validation_alias == where:
            return name
    return where


def _is_secret(field: str) -> bool:
    """True for settings that hold a secret, whose value an error message must never repeat."""
    info = BilanSettings.model_fields.get(field)
    return info is not None and (info.annotation is SecretStr or SecretStr in get_args(info.annotation))
