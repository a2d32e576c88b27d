"""Settings named as in the environment (e.g. Streamlit secrets), turned into ``load_settings`` overrides."""

from __future__ import annotations

from collections.abc import Mapping

from bilan_core.settings import BilanSettings


def setting_names() -> dict[str, str]:
    """Each environment name mapped to its field name (``BILAN_DATABASE_URL`` → ``database_url``)."""
    return {str(field.validation_alias or name): name for name, field in BilanSettings.model_fields.items()}


def overrides_from_named(values: Mapping[str, object]) -> dict[str, object]:
    """``load_settings`` keyword overrides for the known setting names in ``values``; others are ignored."""
    names = setting_names()
    return {names[key]: value for key, value in values.items() if key in names and value is not None}
