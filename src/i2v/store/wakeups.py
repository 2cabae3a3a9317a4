"""Wake-ups instead of polling: wait until the job table may have changed.

One :class:`ChangeFeed` per process and database. On PostgreSQL it holds one
``LISTEN`` connection in a thread (reconnecting after an outage, polling until
then); on SQLite a thread asks ``PRAGMA data_version`` on a kept connection when a
writer on this machine rings its doorbell (``doorbell.py``) after a commit, and
otherwise at an adaptive interval (fast just after a change, slowing to once a
second), so an idle process wakes about once a second. Each consumer takes a
:class:`Waiter` of its own, so no wake-up is missed between its last look and its
next wait. Waits on an event loop (the bot, the API's event streams) hold no thread:
the feed calls into their loop when something changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import selectors
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator

import sqlalchemy as sa

from i2v.store import doorbell

log = logging.getLogger(__name__)

#: Topics, and the PostgreSQL channels they travel on.
QUEUED = "queued"
CANCEL = "cancel"
CHANGED = "changed"
TOPICS = (QUEUED, CANCEL, CHANGED)
CHANNEL_PREFIX = "i2v_"

#: SQLite: the change check runs this often just after a change, slowing to the maximum,
#: besides at once on every ring of the doorbell. The maximum is what a lost ring costs.
SQLITE_MIN_CHECK_SECONDS = 0.005
SQLITE_MAX_CHECK_SECONDS = 1.0
#: The key, in a connection's info, of the bell folder to ring when it is checked in.
_RING_KEY = "i2v_ring_after_commit"
#: PostgreSQL: while the listener is down, waiters poll this often.
OUTAGE_POLL_SECONDS = 1.0
RECONNECT_SECONDS = 0.5
#: PostgreSQL: the listening thread blocks on its socket this long between looks at its
#: stop flag (close() wakes it at once; a dead connection makes the socket readable).
LISTEN_BLOCK_SECONDS = 30.0


async def open_waiter(store_feed: Callable[[], ChangeFeed], topics: Collection[str]) -> Waiter:
    """A waiter from an event loop (opening a PostgreSQL listener blocks for a moment)."""
    return (await asyncio.to_thread(store_feed)).waiter(topics)


def channel(topic: str) -> str:
    """The PostgreSQL channel of a topic."""
    return CHANNEL_PREFIX + topic


def notify(conn: sa.Connection, topic: str, job_id: str) -> None:
    """Announce ``topic`` for a job inside the caller's transaction (delivered on commit)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:c, :p)"), {"c": channel(topic), "p": job_id})
    else:
        _ring_after_commit(conn)


def _ring_after_commit(conn: sa.Connection) -> None:
    """SQLite: ring this file's doorbell once the connection is back in the pool (committed)."""
    folder = doorbell.bell_folder(conn.engine.url.database)
    if folder is None:
        return
    conn.info[_RING_KEY] = folder
    pool = conn.engine.pool
    if not sa.event.contains(pool, "checkin", _ring_on_checkin):
        sa.event.listen(pool, "checkin", _ring_on_checkin)


def _ring_on_checkin(_dbapi_connection: object, record: object) -> None:
    info = getattr(record, "info", None)
    folder = info.pop(_RING_KEY, None) if isinstance(info, dict) else None
    if folder is not None:
        doorbell.ring(folder)


class Waiter:
    """One consumer's view of a feed: wait for topics it has not yet seen."""

    def __init__(self, feed: ChangeFeed, topics: Collection[str]) -> None:
        self._feed = feed
        self.topics = frozenset(topics)
        self._seen = feed.generation()

    @property
    def safety_poll_seconds(self) -> float:
        """The longest any wait lasts, so a lost notification costs no more."""
        return self._feed.safety_poll_seconds

    def wait(self, timeout: float) -> bool:
        """Block until one of the topics changed or ``timeout`` passed; True if it changed."""
        changed, self._seen = self._feed.wait_for(self.topics, self._seen, timeout)
        return changed

    async def wait_async(self, timeout: float) -> bool:
        """:meth:`wait` on an event loop: no thread, woken by the feed itself.

        The feed calls back into the loop when a topic changes, so any number of
        waiting streams cost nothing until something happens.
        """
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(woken.set)

        deadline = loop.time() + min(timeout, self.safety_poll_seconds)
        kicks = self._feed.kicks
        with self._feed.calling(wake):
            while True:
                # Cleared before the look: a change after it sets the event again.
                woken.clear()
                now = self._feed.generation()
                if self._feed.moved(self.topics, self._seen, now):
                    self._seen = now
                    return True
                left = deadline - loop.time()
                if self._feed.closed or self._feed.kicks != kicks or left <= 0:
                    return False
                if not self._feed.connected:
                    # No notifications while the listener is down: poll instead.
                    await asyncio.sleep(min(left, OUTAGE_POLL_SECONDS))
                    self._seen = self._feed.generation()
                    return True
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), left)


class ChangeFeed:
    """Generations per topic, bumped by notifications (PostgreSQL) or change checks (SQLite)."""

    def __init__(self, engine: sa.Engine, *, safety_poll_seconds: float = 5.0) -> None:
        self.safety_poll_seconds = safety_poll_seconds
        self._cond = threading.Condition()
        self._gen = dict.fromkeys(TOPICS, 0)
        self._closed = False
        self._kicks = 0
        #: Called (from any thread) whenever waiters should look again: async waits.
        self._callbacks: set[Callable[[], None]] = set()
        self._backend: _Listener | _DataVersion
        if engine.dialect.name == "postgresql":
            self._backend = _Listener(self, engine)
        else:
            self._backend = _DataVersion(self, engine)

    @property
    def connected(self) -> bool:
        """False while a PostgreSQL listener is down (waiters then poll)."""
        return self._backend.connected

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def kicks(self) -> int:
        """How many times :meth:`kick` ended every wait."""
        return self._kicks

    def waiter(self, topics: Collection[str] = TOPICS) -> Waiter:
        """A new consumer of ``topics``."""
        return Waiter(self, topics)

    @contextlib.contextmanager
    def calling(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call ``callback`` on every change, kick and close while the block runs."""
        with self._cond:
            self._callbacks.add(callback)
        try:
            yield
        finally:
            with self._cond:
                self._callbacks.discard(callback)

    def _wake_all(self) -> None:
        """Wake blocked threads and async waits (the caller holds the condition)."""
        self._cond.notify_all()
        for callback in self._callbacks:
            callback()

    def generation(self) -> dict[str, int]:
        """A copy of the current generation of every topic."""
        with self._cond:
            return dict(self._gen)

    def bump(self, topics: Collection[str] = TOPICS) -> None:
        """Mark topics changed and wake every waiter."""
        with self._cond:
            for topic in topics:
                self._gen[topic] += 1
            self._wake_all()

    def kick(self) -> None:
        """End every wait now, as if it timed out (e.g. to notice a stop request at once)."""
        with self._cond:
            self._kicks += 1
            self._wake_all()

    def wait_for(
        self, topics: frozenset[str], seen: dict[str, int], timeout: float
    ) -> tuple[bool, dict[str, int]]:
        """Wait until a topic's generation passes ``seen``; return (changed, generations now)."""
        timeout = min(timeout, self.safety_poll_seconds)
        deadline = time.monotonic() + timeout
        kicks = self._kicks
        polled = False
        with self._cond:
            while not self.moved(topics, seen) and not self._closed:
                left = deadline - time.monotonic()
                if not self.connected:
                    # No notifications while the listener is down: poll instead.
                    left = min(left, OUTAGE_POLL_SECONDS)
                    self._cond.wait(max(0.0, left))
                    polled = True
                    break
                if left <= 0 or self._kicks != kicks:
                    break
                self._cond.wait(left)
        now = self.generation()
        return polled or self.moved(topics, seen, now), now

    def moved(
        self, topics: frozenset[str], seen: dict[str, int], now: dict[str, int] | None = None
    ) -> bool:
        """True if a topic's generation (now, or as given) differs from ``seen``."""
        gen = now if now is not None else self._gen
        return any(gen[t] != seen.get(t) for t in topics)

    def close(self) -> None:
        """Stop listening and release every waiter."""
        with self._cond:
            self._closed = True
            self._wake_all()
        self._backend.close()


class _DataVersion:
    """SQLite: a thread checks ``PRAGMA data_version`` (it moves when another connection commits).

    It checks when the doorbell rings, and otherwise at an adaptive interval.
    """

    connected = True

    def __init__(self, feed: ChangeFeed, engine: sa.Engine) -> None:
        self._feed = feed
        database = engine.url.database or ":memory:"
        self._conn = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._version = self._read()
        self._bell: doorbell.Doorbell | None = None
        folder = doorbell.bell_folder(engine.url.database)
        if folder is not None:
            try:
                self._bell = doorbell.Doorbell(folder)
            except OSError as exc:
                log.info(
                    "change feed: no doorbell in %s (%s); checking for changes every %.0f s",
                    folder,
                    type(exc).__name__,
                    SQLITE_MAX_CHECK_SECONDS,
                )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="i2v-data-version", daemon=True)
        self._thread.start()

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _sleep(self, seconds: float) -> bool:
        """Wait for a ring or ``seconds``; True if rung."""
        if self._bell is None:
            return self._stop.wait(seconds)
        return self._bell.wait(seconds)

    def _run(self) -> None:
        interval = SQLITE_MIN_CHECK_SECONDS
        try:
            while not self._stop.is_set():
                rung = self._sleep(interval)
                if self._stop.is_set():
                    return
                try:
                    version = self._read()
                except sqlite3.Error:
                    version = self._version + 1  # a locked or busy file: let the waiters look
                if version != self._version:
                    self._version = version
                    interval = SQLITE_MIN_CHECK_SECONDS
                    self._feed.bump()
                elif not rung:
                    interval = min(SQLITE_MAX_CHECK_SECONDS, interval * 2)
        finally:
            self._conn.close()

    def close(self) -> None:
        """Stop the thread, close the kept connection and unregister the doorbell."""
        self._stop.set()
        if self._bell is not None:
            self._bell.ring()
        self._thread.join(timeout=3.0)
        if self._bell is not None:
            self._bell.close()


class _Listener:
    """PostgreSQL: one LISTEN connection in a thread, reconnecting after an outage."""

    def __init__(self, feed: ChangeFeed, engine: sa.Engine) -> None:
        import psycopg

        self._psycopg = psycopg
        self._feed = feed
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self.connected = False
        self.reconnects = 0
        self._conn: psycopg.Connection[object] | None = None
        self._stop = threading.Event()
        self._up = threading.Event()
        # close() writes here to end the thread's wait on the socket (works on Windows too).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="i2v-listen", daemon=True)
        self._thread.start()
        # Give the first connection a moment, so the first wait already hears notifications.
        self._up.wait(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # any outage: poll, then reconnect
                if self._stop.is_set():
                    return
                if self.connected:
                    log.warning(
                        "change feed: lost the listening connection (%s)", type(exc).__name__
                    )
                self.connected = False
                # Waiters fall back to polling; tell them to look now.
                self._feed.bump()
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        conn = self._psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        self._conn = conn
        try:
            for topic in TOPICS:
                conn.execute(f"LISTEN {channel(topic)}")
            self.reconnects += int(self._up.is_set())
            self.connected = True
            self._up.set()
            # Anything sent while we were away is lost: let every waiter look once.
            self._feed.bump()
            # A selector, not select(): a process with many files open passes FD_SETSIZE.
            with selectors.DefaultSelector() as sockets:
                sockets.register(conn.fileno(), selectors.EVENT_READ)
                sockets.register(self._wake_r, selectors.EVENT_READ)
                while not self._stop.is_set():
                    # Take what arrived, then block on the socket itself: psycopg's own
                    # notifies(timeout=...) wakes ten times a second to stay interruptible.
                    for note in conn.notifies(timeout=0):
                        self._feed.bump([note.channel.removeprefix(CHANNEL_PREFIX)])
                    sockets.select(LISTEN_BLOCK_SECONDS)
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(64)
        finally:
            self.connected = False
            conn.close()

    def close(self) -> None:
        """Stop the thread and close the connection."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"!")
        self._thread.join(timeout=3.0)
        self._wake_r.close()
        self._wake_w.close()
