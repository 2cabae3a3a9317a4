"""Writes :mod:`i2v.store.readsql`: the SQL of the store's reads, as the store sends it to SQLite.

    python scripts/update_fast_reads.py [--check]

Nothing here writes a query. It runs the store's own methods (``get_with_position``,
``list_jobs``, ``media_info``, the schema version) on a scratch SQLite file and records
each SELECT that SQLAlchemy hands to sqlite3, with its parameters. Parameters given as
recognisable values (the job id, the lease cut-off, the limit, ...) become named
parameters; every other one is a constant of the statement. The result columns'
SQLAlchemy types say which values the reader must decode (JSON, booleans).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from i2v.jobs import JobSpec, JobStatus, WorkerInfo, WorkerState
from i2v.store import VIDEO, JobStore, migrations, open_store_url, schema_version
from i2v.store.database import SQLITE_BUSY_TIMEOUT_SECONDS

MODULE = Path(__file__).with_name("readsql.py")
#: Recognisable argument values, each standing for a named parameter.
_NOW = 1_000_000.25
_LEASE_SECONDS = 60.0
_LIMIT = 7777
#: Result types a reader takes as sqlite3 returns them.
_PLAIN_TYPES = (sa.String, sa.Integer, sa.Float)


@dataclass
class Captured:
    """One SELECT as SQLAlchemy ran it."""

    sql: str
    parameters: tuple[Any, ...]
    types: dict[str, sa.types.TypeEngine[Any]] = field(default_factory=dict)


@contextmanager
def _recording() -> Iterator[list[Captured]]:
    seen: list[Captured] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            return
        compiled = getattr(context, "compiled", None)
        columns = getattr(getattr(compiled, "statement", None), "selected_columns", ())
        types = {column.name: column.type for column in columns}
        seen.append(Captured(statement, tuple(parameters or ()), types))

    event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sa.Engine, "before_cursor_execute", record)


def _capture(call: Callable[[], object]) -> list[Captured]:
    with _recording() as seen:
        call()
    return seen


def capture() -> dict[str, Captured]:
    """Run the store's reads on a scratch database; return each statement by constant name."""
    with tempfile.TemporaryDirectory(prefix="i2v-readsql-") as folder:
        url = f"sqlite:///{(Path(folder) / 'i2v.db').as_posix()}"
        store = open_store_url(url, lease_seconds=_LEASE_SECONDS, clock=lambda: _NOW)
        try:
            return _capture_from(store)
        finally:
            store.close()


def _capture_from(store: JobStore) -> dict[str, Captured]:
    job = store.submit(JobSpec(prompt="readsql"), b"photo")
    # A live worker, so reading a queued job also asks which workers would claim it.
    store.register_worker(
        WorkerInfo(id="readsql-worker", host="readsql", pid=1, state=WorkerState.IDLE)
    )
    store.put_media(job.id, VIDEO, b"video", "video/mp4")
    with_position, serving = _capture(lambda: store.get_with_position(job.id))
    [listed] = _capture(lambda: store.list_jobs(limit=_LIMIT))
    [listed_by_status] = _capture(
        lambda: store.list_jobs(statuses=[JobStatus.FAILED], limit=_LIMIT)
    )
    [media] = _capture(lambda: store.media_info(job.id, VIDEO))
    [version] = _capture(lambda: schema_version(store))
    names = {
        job.id: "job_id",
        _NOW - _LEASE_SECONDS: "live_since",
        _LIMIT: "limit",
        JobStatus.FAILED.value: "status",
        VIDEO: "kind",
    }
    statements = {
        "JOB_WITH_POSITION": with_position,
        "SERVING_CLAIMS": serving,
        "LIST_JOBS": listed,
        "LIST_JOBS_BY_STATUS": listed_by_status,
        "MEDIA_INFO": media,
        "SCHEMA_VERSION": version,
    }
    return {name: _named(captured, names) for name, captured in statements.items()}


def _named(captured: Captured, names: dict[Any, str]) -> Captured:
    """The statement with ``:name`` parameters: recognised values named, the rest constants."""
    pieces = captured.sql.split("?")
    if len(pieces) != len(captured.parameters) + 1:
        raise RuntimeError(f"cannot tell the parameters of: {captured.sql}")
    text, constants = pieces[0], []
    for index, (value, piece) in enumerate(zip(captured.parameters, pieces[1:], strict=True)):
        name = names.get(value) if isinstance(value, (str, float, int)) else None
        if name is None:
            name = f"c{index}"
            constants.append((name, value))
        text += f":{name}{piece}"
    return Captured(text, tuple(constants), captured.types)


def _decoded(captured: Captured, kind: type[sa.types.TypeEngine[Any]]) -> tuple[str, ...]:
    for name, column_type in captured.types.items():
        if not isinstance(column_type, (sa.JSON, sa.Boolean, *_PLAIN_TYPES)):
            raise RuntimeError(f"no reader for column {name} of type {column_type!r}")
    return tuple(name for name, t in captured.types.items() if isinstance(t, kind))


def _literal(value: Any) -> str:
    """Python source for a str, number, None or tuple of them, as ruff formats it."""
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return repr(value)


_HEADER = '''"""The SQL of the store's reads behind `i2v jobs` and `i2v job ID`, as it reaches SQLite.

Generated by scripts/update_fast_reads.py from the statements JobStore runs (see
i2v.store.readsql_build); do not edit. tests/test_store_sqlitereads.py fails when the
store's statements change and this file was not regenerated.
"""

from __future__ import annotations

from typing import NamedTuple


class Statement(NamedTuple):
    """One SELECT: its text with :name parameters, its constants, and what to decode."""

    sql: str
    constants: dict[str, str | int | float | None]
    json_columns: tuple[str, ...]
    bool_columns: tuple[str, ...]

'''


def render() -> str:
    """The text of readsql.py for the store as it is."""
    lines = [
        _HEADER,
        "#: The schema version the statements are written for (i2v.store.migrations.HEAD).",
        f"SCHEMA_HEAD = {migrations.HEAD}",
        "#: How long a read waits for a writer's lock (i2v.store.database).",
        f"BUSY_TIMEOUT_SECONDS = {SQLITE_BUSY_TIMEOUT_SECONDS!r}",
    ]
    for name, captured in capture().items():
        constants = [f"        {_literal(k)}: {_literal(v)}," for k, v in captured.parameters]
        lines += [
            f"{name} = Statement(",
            f"    sql={_literal(captured.sql)},",
            *(["    constants={", *constants, "    },"] if constants else ["    constants={},"]),
            f"    json_columns={_literal(_decoded(captured, sa.JSON))},",
            f"    bool_columns={_literal(_decoded(captured, sa.Boolean))},",
            ")",
        ]
    return "\n".join(lines) + "\n"
