"""The settings as people see them: `i2v config` output and the README's reference table."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from i2v.config.settings import ENV_PREFIX, Settings, mask_url

MASK = "********"


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, dict):
        # Named tokens: the names show, the tokens never do.
        return ",".join(f"{name}:{_shown(secret)}" for name, secret in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


def effective_settings(settings: Settings) -> list[tuple[str, Any, str]]:
    """(environment variable, value with secrets masked, description) for every setting."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = _shown(getattr(settings, name))
        if name == "database_url":
            value = mask_url(settings.database_url_resolved)
        rows.append((ENV_PREFIX + name.upper(), value, field.description or ""))
    return rows


def _default_text(name: str) -> str:
    field = Settings.model_fields[name]
    if name == "data_dir":
        return "the platform's user data folder"
    if field.default_factory is not None:
        return "(empty)"
    default = _shown(field.default)
    return "(empty)" if default in (None, "") else f"`{default}`"


def markdown_table() -> str:
    """The configuration reference as a Markdown table, generated from Settings."""
    lines = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default_text(name)} | {description} |")
    return "\n".join(lines) + "\n"
