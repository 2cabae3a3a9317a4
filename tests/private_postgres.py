"""A private PostgreSQL cluster in a temp folder, for tests that stop, restart or cut off the server.

The shared server (``I2V_TEST_POSTGRES_URL``) serves every other test at once, so a fault test
never restarts it: it makes its own cluster with Debian's ``initdb`` and ``pg_ctl``, on a port
of its own, and can stop, start and restart it at will. PostgreSQL refuses to run as root, so
when the tests run as root (CI) the cluster runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian puts them off PATH), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    return versions[-1] if versions and (versions[-1] / "pg_ctl").exists() else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """One PostgreSQL cluster in ``folder``, listening on ``host:port``, that a test controls."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's initdb and pg_ctl are not installed")
        self.bin_dir = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.host = host
        self.port = port or free_port(host)
        self._as_postgres = os.name != "nt" and os.geteuid() == 0

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database on this cluster."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql+psycopg://postgres@{host}:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        """Create the cluster: trust auth, small memory, no fsync (a test's data is throwaway)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "100",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in options.items())

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it accepts connections."""
        log = self.folder / "server.log"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", str(int(timeout)), "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends sessions; ``immediate`` is a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server, stay down ``down_seconds``, and start it again."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def is_running(self) -> bool:
        """Whether the server process is up."""
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def log_text(self) -> str:
        """What the server wrote to its log (for a failing test's message)."""
        log = self.folder / "server.log"
        return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


@contextmanager
def private_postgres(host: str = "127.0.0.1", port: int | None = None) -> Iterator[PrivatePostgres]:
    """A started private cluster, stopped and deleted afterwards even if the test fails."""
    folder = Path(tempfile.mkdtemp(prefix="i2v-pg-"))
    cluster = PrivatePostgres(folder, host=host, port=port)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
