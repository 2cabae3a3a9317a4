"""Checks of what i2v talks to: the job database, the Telegram Bot API, the H.264 encoder."""

from __future__ import annotations

import re
from pathlib import Path

import av
import sqlalchemy as sa

from i2v.config import Settings
from i2v.doctor.findings import Finding, Probe, Status
from i2v.errors import I2VError
from i2v.store import migrations
from i2v.store.database import create_db_engine, translated_errors

#: What @BotFather hands out: the bot's numeric id, a colon, and a 35-character secret.
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")


def check_database(settings: Settings) -> Finding:
    """The job database is reachable and its schema is the one this i2v expects."""
    url = settings.database_url_resolved
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if not path.exists():
            # Opening it would create an empty file; say what will happen instead.
            return Finding("database", Status.PASS, f"{path} is created on first use")
    try:
        engine = create_db_engine(url)
        try:
            with translated_errors(url), engine.connect() as conn:
                version = migrations.current_version(conn)
        finally:
            engine.dispose()
    except I2VError as exc:
        return Finding(
            "database",
            Status.FAIL,
            str(exc),
            "start the database server, or fix I2V_DATABASE_URL (i2v config shows the one in use)",
        )
    where = "SQLite" if parsed.get_backend_name() == "sqlite" else "PostgreSQL"
    if version > migrations.HEAD:
        return Finding(
            "database",
            Status.FAIL,
            f"{where} schema version {version} is newer than this i2v knows ({migrations.HEAD})",
            "upgrade i2v on this machine to the version the other hosts run",
        )
    if version < migrations.HEAD:
        return Finding(
            "database",
            Status.WARN,
            f"{where} is reachable, schema version {version} of {migrations.HEAD}",
            "run: i2v db upgrade (every i2v program also upgrades it when it starts; no job is lost)",
        )
    return Finding(
        "database", Status.PASS, f"{where} is reachable and migrated (version {version})"
    )


def check_telegram(settings: Settings, probe: Probe) -> Finding:
    """The bot token looks like one, and Telegram accepts it when the Bot API can be reached."""
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        return Finding("telegram", Status.PASS, "I2V_TELEGRAM_TOKEN is not set: the bot is off")
    token = settings.telegram_token.get_secret_value().strip()
    if not TOKEN_PATTERN.match(token):
        return Finding(
            "telegram",
            Status.FAIL,
            "I2V_TELEGRAM_TOKEN does not look like a bot token (expected 123456789:AAH...)",
            "copy the token again from @BotFather (/mybots > your bot > API Token)",
        )
    answer = probe.telegram_get_me(settings.telegram_api_url, token)
    if not answer.reachable:
        return Finding(
            "telegram",
            Status.WARN,
            f"the token looks right, but {settings.telegram_api_url} cannot be reached: "
            f"{answer.description}",
            "check the internet connection or proxy; if Telegram is blocked here, run a "
            "Bot API server you can reach and set I2V_TELEGRAM_API_URL",
        )
    if not answer.ok:
        return Finding(
            "telegram",
            Status.FAIL,
            f"Telegram refused the token: {answer.description or 'unauthorized'}",
            "the token was revoked or mistyped; get the current one from @BotFather",
        )
    return Finding("telegram", Status.PASS, f"the token belongs to @{answer.username}")


def check_encoder() -> Finding:
    """PyAV has the H.264 and AAC encoders the MP4 writer needs."""
    missing = []
    for codec in ("libx264", "aac"):
        try:
            av.codec.Codec(codec, "w")
        except Exception:  # PyAV raises UnknownCodecError, a ValueError, or FFmpegError by version.
            missing.append(codec)
    if missing:
        return Finding(
            "h264 encoder",
            Status.FAIL,
            f"PyAV {av.__version__} lacks the {' and '.join(missing)} encoder",
            "reinstall PyAV from its wheel, which bundles them: pip install --force-reinstall av",
        )
    return Finding("h264 encoder", Status.PASS, f"libx264 and aac found (PyAV {av.__version__})")
