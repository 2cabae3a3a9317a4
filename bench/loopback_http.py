"""Loopback load tests of ``i2v api`` (used by bench/api_load.py): the servers and the client.

The servers run as ``i2v api`` processes of their own, from this tree's sources or
from a copy of another git ref's (so before and after run side by side); the client
is a minimal keep-alive HTTP/1.1 client that costs a fraction of what it measures.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads whole replies.

    httpx spends about twice the server's CPU per small request; on a machine whose cores
    the server shares, that would measure the client. This speaks just enough HTTP for the
    API's replies (Content-Length bodies), so the load costs a fraction of what it measures.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the server on loopback."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request (head and body as bytes); return the status and body of the reply."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        await self.writer.wait_closed()


def get_request(path: str) -> bytes:
    """A GET request, ready to send."""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def upload_request(photo: bytes, fields: dict[str, str]) -> bytes:
    """A multipart POST /v1/jobs with ``photo`` and form ``fields``, ready to send."""
    boundary = "i2vbench" + "0" * 16
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    body = b"".join(parts)
    head = (
        "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(frozen=True)
class Server:
    """One ``i2v api`` under test."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"


def source_trees(ref: str | None, folder: Path) -> dict[str, Path]:
    """The source folders to serve: this tree's, and before it ``ref``'s (``git archive``)."""
    trees = {"this tree": ROOT / "src"}
    if ref is None:
        return trees
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    )
    (folder / "ref").mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder / "ref")], input=archive.stdout, check=True)
    return {ref: folder / "ref" / "src", **trees}


def start_server(
    url: str, folder: Path, port: int, workers: int, src: Path
) -> subprocess.Popen[bytes]:
    """Start ``i2v api`` from the sources in ``src`` over ``url`` on loopback, as a user would."""
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "I2V_DATABASE_URL": url,
        "I2V_DATA_DIR": str(folder),
        "I2V_API_RATE_LIMIT_PER_SECOND": "0",
        "I2V_LOG_LEVEL": "WARNING",
        # One client opens every stream; the per-client cap (8 by default) would refuse most.
        "I2V_API_MAX_STREAMS": "10000",
        "I2V_API_MAX_STREAMS_PER_CLIENT": "10000",
    }
    command = [sys.executable, "-m", "i2v", "api", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env)


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` and its children (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float = 30) -> None:
    """Wait until the server answers /readyz."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the API server did not start")
