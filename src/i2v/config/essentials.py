"""The few settings `i2v jobs` and `i2v job ID` need, read without pydantic.

:func:`read_essentials` reads the database URL, the data folder, the log level and the
lease from the ``I2V_*`` environment and ``./.env`` exactly as :class:`~i2v.config.Settings`
does (the environment wins over ``.env``; names are case-insensitive; ``.env`` is parsed
by python-dotenv, as pydantic-settings parses it). It answers only when it is sure: every
other setting that is set must be one it can check from :mod:`i2v.config.settingkinds`
(generated from Settings), and every value must be one Settings takes as it is. Anything
else (a value it cannot check, an odd ``.env``, overrides) gives None, and the caller
builds the full Settings, which gives the proper error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from i2v.config import settingkinds

ENV_PREFIX = "I2V_"
#: The settings file, relative to the working folder (Settings' ``env_file``).
ENV_FILE = ".env"

_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


def default_data_dir() -> Path:
    """Return the platform's per-user data folder for i2v."""
    import platformdirs  # only when I2V_DATA_DIR is not set

    return Path(platformdirs.user_data_dir("i2v", appauthor=False))


def clean_database_url(value: str | None) -> str | None:
    """I2V_DATABASE_URL as Settings keeps it (None when empty); ValueError if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        raise ValueError(
            "must start with sqlite:/// or postgresql+psycopg:// "
            "(for example postgresql+psycopg://i2v:secret@db-host/i2v)"
        )
    return value


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The database URL to connect to (SQLite in the data folder when unset)."""
    if database_url:
        if database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + database_url[len("postgresql://") :]
        return database_url
    return f"sqlite:///{(data_dir / 'i2v.db').as_posix()}"


@dataclass(frozen=True)
class Essentials:
    """The settings a read-only command needs, with Settings' values."""

    data_dir: Path
    database_url: str | None
    log_level: str
    worker_lease_seconds: float

    @property
    def database_url_resolved(self) -> str:
        """The database URL to connect to, as Settings resolves it."""
        return resolve_database_url(self.database_url, self.data_dir)


def read_essentials(**overrides: object) -> Essentials | None:
    """The essentials from the environment and ``.env``; None where only Settings can tell."""
    if overrides:
        return None
    values = _raw_values()
    if values is None or not all(_is_sure(name, value) for name, value in values.items()):
        return None
    try:
        database_url = clean_database_url(values.get("database_url"))
    except ValueError:
        return None
    data_dir = values.get("data_dir")
    lease = values.get("worker_lease_seconds")
    return Essentials(
        data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
        database_url=database_url,
        log_level=values.get("log_level", settingkinds.DEFAULT_LOG_LEVEL),
        worker_lease_seconds=(
            float(lease) if lease is not None else settingkinds.DEFAULT_WORKER_LEASE_SECONDS
        ),
    )


def _raw_values() -> dict[str, str] | None:
    """Each set setting's raw text by field name: the environment over ``.env``."""
    prefix = ENV_PREFIX.lower()
    found: dict[str, str] = {}
    path = Path(ENV_FILE)
    if path.is_file():
        try:
            from dotenv import dotenv_values  # only when there is a .env

            file_values = dotenv_values(path, encoding="utf-8")
        except (OSError, UnicodeError, ValueError):
            return None  # Settings says what is wrong with the file
        for key, value in file_values.items():
            # A name with no value counts as unset there, as in pydantic-settings.
            if value is not None and key.lower().startswith(prefix):
                found[key.lower()[len(prefix) :]] = value
    elif path.exists() or path.is_symlink():
        return None  # a folder, a pipe or a broken link: Settings decides
    for key, value in os.environ.items():
        if key.lower().startswith(prefix):
            found[key.lower()[len(prefix) :]] = value
    return {name: value for name, value in found.items() if name in settingkinds.KINDS}


def _is_sure(name: str, value: str) -> bool:
    """True when Settings takes ``value`` for ``name`` as this module reads it."""
    kind = settingkinds.KINDS[name]
    if name == "database_url":
        return True  # checked by clean_database_url, which Settings uses too
    if kind == "text":
        return True
    if kind == "path":
        return value != "" and "\0" not in value
    if kind == "choice":
        return value in settingkinds.CHOICES[name]
    if kind in ("int", "float"):
        pattern = _INT if kind == "int" else _FLOAT
        return pattern.fullmatch(value) is not None and _within(float(value), name)
    return False  # a list, a token, a setting with its own checks: only Settings can tell


def _within(number: float, name: str) -> bool:
    ge, gt, le, lt = settingkinds.BOUNDS[name]
    return (
        (ge is None or number >= ge)
        and (gt is None or number > gt)
        and (le is None or number <= le)
        and (lt is None or number < lt)
    )
