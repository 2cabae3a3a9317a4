"""Logging for ``i2v up``: its own lines and every child's, to the console and a rotating file."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5


class _Formatter(logging.Formatter):
    """Child lines already carry their own time and level; prefix them with the child's name."""

    def format(self, record: logging.LogRecord) -> str:
        child = getattr(record, "child", None)
        if child is not None:
            return f"[{child}] {record.getMessage()}"
        return super().format(record)


def configure_logging(data_dir: Path, level: str) -> Path:
    """Send all logging to stderr and to ``<data dir>/logs/i2v-up.log``; return the file's path."""
    folder = data_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "i2v-up.log"
    formatter = _Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    # delay=True: the file opens on the first line; encoding pinned so Windows keeps Cyrillic.
    rotating = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8", delay=True
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in (console, rotating):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    # Children's lines pass at any level: the child already filtered by its own I2V_LOG_LEVEL.
    logging.getLogger("i2v.child").setLevel(logging.INFO)
    return path
