"""One bot per PostgreSQL database: a session-level advisory lock held by ``i2v up``.

Several GPU hosts may run ``i2v worker`` against one PostgreSQL; that is the
scale-out and needs no lock. But the bot polls one Telegram token, and two
bots on one database would fight over updates (Telegram answers 409 Conflict)
and edit each other's status messages. So an ``i2v up`` that starts a bot takes
``pg_try_advisory_lock`` on a connection of its own and keeps it for its whole
life; PostgreSQL releases it the moment that connection ends, so a killed
``i2v up`` leaves nothing stale. The holder names itself in the connection's
``application_name``, which is how a refused ``i2v up`` can say who holds it.

SQLite needs none of this: its database lives in the data folder, which has a
lock of its own (``i2v.launcher.instance``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import sqlalchemy as sa

from i2v.config.settings import mask_url
from i2v.errors import StoreError

log = logging.getLogger(__name__)

#: The advisory lock's key: "i2vb" as a number. Advisory locks are per database already.
KEY = 0x69327662
#: How often the keeper checks that the lock's connection is still there.
KEEP_SECONDS = 15.0
#: PostgreSQL keeps at most this many bytes of an application_name.
_NAME_LIMIT = 63

#: Who holds the lock: the holding session's name, address and start.
_HOLDER = (
    "SELECT a.application_name, a.client_addr, a.backend_start "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class BotLock:
    """The database's bot lock; :meth:`acquire` returns None when taken, else the holder's words."""

    def __init__(self, url: str, holder: str) -> None:
        self.url = url
        self.holder = holder[:_NAME_LIMIT]
        self._conn: Any = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def acquire(self) -> str | None:
        """Take the lock and keep it; return None, or who holds it if someone else does."""
        taken, holder = self._try()
        if not taken:
            return holder
        self._keeper = threading.Thread(target=self._keep, name="i2v-bot-lock", daemon=True)
        self._keeper.start()
        return None

    def release(self) -> None:
        """Let go of the lock (it also goes when this process ends)."""
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=KEEP_SECONDS)
        self._close()

    def _try(self) -> tuple[bool, str]:
        import psycopg

        dsn = sa.make_url(self.url).set(drivername="postgresql").render_as_string(False)
        try:
            conn = psycopg.connect(
                dsn, autocommit=True, connect_timeout=10, application_name=self.holder
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot reach the database at {mask_url(self.url)} to check for another "
                f"bot: {type(exc).__name__}"
            ) from None
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (KEY,)).fetchone()
            if row is not None and row[0]:
                self._conn = conn
                return True, ""
            found = conn.execute(_HOLDER, (KEY,)).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot check for another bot: {type(exc).__name__}") from None
        conn.close()
        if found is None:
            return False, "another process (it let go just now; try again)"
        name, address, since = found
        where = f" from {address}" if address else ""
        return False, f"{name or 'a process'}{where}, connected since {since:%Y-%m-%d %H:%M:%S%z}"

    def _keep(self) -> None:
        """Re-take the lock after a database outage closed its connection."""
        while not self._stop.wait(KEEP_SECONDS):
            if self._is_connected():
                continue
            self._close()
            try:
                taken, holder = self._try()
            except StoreError:
                continue  # the database is still away; the next round tries again
            if taken:
                log.info("took the bot lock again after the database came back")
            else:
                log.error("another bot took this database's bot lock while it was away: %s", holder)
                return

    def _is_connected(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception:  # any failure means the connection is gone
            return False
        return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a connection the server already dropped may fail in many ways.
            with contextlib.suppress(Exception):
                conn.close()
