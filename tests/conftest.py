"""Shared fixtures: real SQLite files and real PostgreSQL databases, one per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from i2v.config import Settings
from i2v.store import JobStore, open_store_url

DATA = Path(__file__).parent / "data"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's I2V_* variables or .env file."""
    for name in list(os.environ):
        if name.startswith("I2V_") and not name.startswith(("I2V_TEST_", "I2V_REQUIRE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def photo_bytes() -> bytes:
    """A real photo (a cup of coffee, 600x400 PNG)."""
    return (DATA / "coffee.png").read_bytes()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with the data folder in a temp folder.

    FastAPI's TestClient sends ``Host: testserver``; a tokenless API answers only names
    it knows, so the tests name that one as a real deployment would name its own.
    """
    return Settings(data_dir=tmp_path / "data", api_allowed_hosts=["testserver"])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{(tmp_path / 'i2v.db').as_posix()}"


def _postgres_admin_url() -> str:
    url = os.environ.get("I2V_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        if os.environ.get("I2V_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but unreachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {url}")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    admin_url = _postgres_admin_url()
    name = f"i2v_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh database of each supported kind."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(store_url: str) -> Iterator[JobStore]:
    """A migrated job store on each supported database."""
    opened = open_store_url(store_url)
    yield opened
    opened.close()
