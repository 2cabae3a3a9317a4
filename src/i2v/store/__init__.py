"""The job store: the one meeting point of front ends and workers.

Open it with :func:`open_store` (from settings) or :func:`open_store_url`.

The names below are imported on first use, so a module of this package that needs
no SQLAlchemy (:mod:`~i2v.store.rows`, :mod:`~i2v.store.sqlitereads`) imports none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from i2v.lazy import lazy_names

if TYPE_CHECKING:
    from i2v.config import Settings
    from i2v.config.settings import mask_url
    from i2v.store.blobs import DatabaseChunks, MediaBlobs
    from i2v.store.jobstore import JobStore, Lease
    from i2v.store.media import PHOTO, THUMBNAIL, VIDEO, MediaInfo
    from i2v.store.timings import STEP, TOTAL, Timing, request_key

__all__ = [
    "PHOTO",
    "STEP",
    "THUMBNAIL",
    "TOTAL",
    "VIDEO",
    "DatabaseChunks",
    "JobStore",
    "Lease",
    "MediaBlobs",
    "MediaInfo",
    "Timing",
    "mask_url",
    "open_store",
    "open_store_url",
    "request_key",
    "schema_version",
]

#: Where each re-exported name lives.
_HOMES = {
    "PHOTO": "i2v.store.media",
    "THUMBNAIL": "i2v.store.media",
    "VIDEO": "i2v.store.media",
    "MediaInfo": "i2v.store.media",
    "STEP": "i2v.store.timings",
    "TOTAL": "i2v.store.timings",
    "Timing": "i2v.store.timings",
    "request_key": "i2v.store.timings",
    "DatabaseChunks": "i2v.store.blobs",
    "MediaBlobs": "i2v.store.blobs",
    "JobStore": "i2v.store.jobstore",
    "Lease": "i2v.store.jobstore",
    "mask_url": "i2v.config.settings",
}

__getattr__ = lazy_names(__name__, _HOMES)


def open_store(settings: Settings, *, migrate: bool = True) -> JobStore:
    """Open the store the settings point at, upgrading its schema unless ``migrate`` is False."""
    return open_store_url(
        settings.database_url_resolved,
        migrate=migrate,
        lease_seconds=settings.worker_lease_seconds,
        max_attempts=settings.max_attempts,
        eta_prior_seconds=settings.eta_prior_seconds,
    )


def open_store_url(
    url: str,
    *,
    migrate: bool = True,
    lease_seconds: float = 60.0,
    max_attempts: int = 3,
    eta_prior_seconds: float = 120.0,
    clock: Callable[[], float] = time.time,
    media_blobs: MediaBlobs | None = None,
) -> JobStore:
    """Open a store at ``url``; raise StoreError if unreachable, SchemaError if not migrated.

    ``media_blobs`` is where photos and videos keep their bytes; by default, chunks in
    the same database.
    """
    from i2v.config.settings import mask_url
    from i2v.errors import SchemaError
    from i2v.store import migrations
    from i2v.store.database import create_db_engine, translated_errors
    from i2v.store.jobstore import JobStore

    engine = create_db_engine(url)
    with translated_errors(url):
        if migrate:
            migrations.upgrade(engine)
        else:
            with engine.connect() as conn:
                version = migrations.current_version(conn)
            if version != migrations.HEAD:
                engine.dispose()
                raise SchemaError(
                    f"the database at {mask_url(url)} is at schema version {version}, "
                    f"this i2v needs {migrations.HEAD}; run: i2v db upgrade"
                )
    return JobStore(
        engine,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
        eta_prior_seconds=eta_prior_seconds,
        clock=clock,
        media_blobs=media_blobs,
    )


def schema_version(store: JobStore) -> int:
    """Return the schema version of the store's database."""
    from i2v.store import migrations

    with store._read() as conn:
        return migrations.current_version(conn)
