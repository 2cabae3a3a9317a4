"""A minimal keep-alive HTTP/1.1 client for loopback load tests (used by bench/api_load.py)."""

from __future__ import annotations

import asyncio


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
