"""Opening the database: SQLite tuned for several processes, or PostgreSQL; errors made readable."""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    InvalidatePoolError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from i2v.config.settings import mask_url
from i2v.errors import ConfigError, StoreError, StoreUnavailable

#: How long a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
#: Read-only transactions use a deferred BEGIN so they never wait for writers (WAL).
READONLY = {"i2v_readonly": True}
#: PostgreSQL: a pooled connection idle longer than this is pinged before use (sooner
#: if the server sent it something, as it does when it closes the connection).
IDLE_PING_SECONDS = 2.0
#: The key, in a pooled connection's info, of when it was last returned to the pool.
_IDLE_SINCE = "i2v_idle_since"


def create_db_engine(url: str) -> sa.Engine:
    """Create an engine for ``url``; raise ConfigError if the URL cannot be used."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"I2V_DATABASE_URL is not a database URL: {mask_url(url)!r} "
            "(expected sqlite:///path/i2v.db or postgresql+psycopg://user:password@host/db)"
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        if parsed.get_backend_name() == "postgresql":
            return _postgres_engine(parsed)
    except NoSuchModuleError:
        pass  # an unknown driver name gets the same answer as an unknown database, below
    raise ConfigError(
        f"I2V_DATABASE_URL uses an unsupported database: {mask_url(url)!r} "
        "(i2v supports sqlite:/// and postgresql+psycopg://)"
    )


def _postgres_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        # The connection used last is used next: under load one stays hot, the rest idle
        # (and are pinged when next used, or closed by the server's idle timeouts).
        pool_use_lifo=True,
        connect_args={"connect_timeout": 10, "application_name": "i2v"},
    )
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", _ping_if_in_doubt)
    event.listen(engine, "set_connection_execution_options", _read_without_transaction)
    return engine


def _read_without_transaction(_conn: sa.Connection, options: dict[str, Any]) -> None:
    """PostgreSQL: run read-only work in autocommit, without BEGIN and COMMIT round trips.

    At READ COMMITTED, PostgreSQL's default, each statement takes its own snapshot
    inside a transaction or out of it, so a read sees the same either way; it saves
    two of the three round trips of a one-statement read.
    """
    if options.get("i2v_readonly"):
        options["isolation_level"] = "AUTOCOMMIT"


def _note_idle(dbapi_conn: Any, record: Any) -> None:
    if dbapi_conn is not None:  # None: it was invalidated, and will not be reused
        record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_in_doubt(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Ping a pooled connection only when it may be dead; under load none is pinged.

    pool_pre_ping would cost a round trip (two, with the transaction it begins) on
    every checkout. Here a connection is pinged when it sat in the pool a while, or
    when its socket has something to read: a healthy idle connection receives nothing,
    while a server that restarted or killed it sent its farewell and closed it. One
    found dead invalidates every connection pooled before it (a restart killed them
    all) and the pool retries with a fresh one, so the caller never sees it.
    """
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None:
        return  # fresh from connect()
    if time.monotonic() - idle_since < IDLE_PING_SECONDS and not _has_input(dbapi_conn):
        return  # in use moments ago, and nothing came in since
    try:
        # Autocommit for the ping, so it does not open a transaction for the caller.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        try:
            dbapi_conn.execute("SELECT 1")
        finally:
            dbapi_conn.autocommit = autocommit
    except Exception as exc:
        raise InvalidatePoolError(f"a pooled connection was dead: {exc}") from exc


def _has_input(dbapi_conn: Any) -> bool:
    """True if the connection's socket is readable (data, or the server closed it)."""
    try:
        fd = dbapi_conn.fileno()
    except Exception:
        return True  # closed already: the ping will say so
    if hasattr(select, "poll"):
        # poll(), not select(): a process with many files open passes FD_SETSIZE.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: sockets only, no limit


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database and url.database != ":memory:":
        path = Path(url.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for the database {path.parent}: {exc.strerror}; "
                "set I2V_DATA_DIR or I2V_DATABASE_URL to a writable place"
            ) from None
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level; transactions are begun explicitly below, so a
        # writer takes the write lock at BEGIN and can never deadlock upgrading a read lock.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # Only takes effect before the first table exists: new files can then give the
        # space of purged videos back (blobs.shrink_sqlite converts older files once).
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        readonly = conn.get_execution_options().get("i2v_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Turn driver errors into StoreError with a sentence a user can act on.

    An error that says the database is out of reach for now (see :func:`is_outage`)
    becomes :class:`StoreUnavailable`, so long-running processes can wait it out.
    """
    try:
        yield
    except DBAPIError as exc:
        kind = StoreUnavailable if is_outage(exc) else StoreError
        raise kind(describe_db_error(exc, url)) from exc
    except (DisconnectionError, PoolTimeout) as exc:
        raise StoreUnavailable(f"cannot reach the database at {mask_url(url)}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database error at {mask_url(url)}: {exc}") from exc


#: SQLite errors that pass: a lock held past the busy timeout, a full disk, a failing disk.
#: ("unable to open database file" is not one: it is a folder nobody may write, or a wrong path.)
_SQLITE_OUTAGES = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "database or disk is full",
    "disk i/o error",
)


def is_outage(exc: DBAPIError) -> bool:
    """True if the error says the database is out of reach for now, not that the request is wrong.

    PostgreSQL: any connection failure, server shutdown or restart, or an operator-class
    error (psycopg's OperationalError: admin shutdown, cannot connect now, disk full, ...).
    SQLite: a lock held past the busy timeout, a full disk or an I/O error, never a
    missing table or a malformed file.
    """
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if _is_sqlite_error(exc):
        return isinstance(exc, OperationalError) and any(s in text for s in _SQLITE_OUTAGES)
    return isinstance(exc, (OperationalError, InterfaceError))


def _is_sqlite_error(exc: DBAPIError) -> bool:
    return type(exc.orig).__module__.startswith("sqlite3")


def describe_db_error(exc: DBAPIError, url: str) -> str:
    """Explain a driver error in one sentence naming the database and the likely fix."""
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    where = mask_url(url)
    lowered = text.lower()
    if "disk is full" in lowered or "no space left" in lowered:
        return f"the disk holding the database is full ({where}); free some space and retry"
    if "disk i/o error" in lowered:
        return (
            f"the disk holding the database refused a read or write ({where}): it may be full "
            "or failing; free some space or check the disk"
        )
    if "database is locked" in lowered:
        return f"the database is busy (another program holds a lock on {where}); retry shortly"
    if "unable to open database" in lowered or "readonly database" in lowered:
        return f"cannot open the database file {where}: {text}; check I2V_DATA_DIR permissions"
    if exc.connection_invalidated or "connection" in lowered or "could not" in lowered:
        return (
            f"cannot reach the database at {where}: {text}. Is the database server running "
            "and I2V_DATABASE_URL right?"
        )
    return f"database error at {where}: {text}"


def upsert_insert(dialect: str, table: sa.Table) -> Any:
    """An INSERT of the right dialect, so callers can add ``.on_conflict_do_nothing()``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
