"""Signed media links: a short-lived URL a ``<video src>`` can use without the API token.

A browser cannot put an ``Authorization`` header on ``<video src>``, and fetching
the whole file as a blob first means a phone waits for every byte before it can
play. So the page asks (with its token) for a link; the link carries an expiry
and an HMAC over job id, kind and expiry made with a secret only this server
knows, and the media routes accept it instead of the token, Range and all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from i2v.config import Settings

#: How long a link works; the page asks for a fresh one every time it shows a job.
LINK_SECONDS = 3600


def link_secret(settings: Settings) -> bytes | None:
    """A signing key every API process of this configuration shares, or None without tokens.

    ``i2v api --workers N`` runs N processes: a link one of them signs must open in another,
    so the key comes from the client tokens they all read (changing a token retires the
    links). Without tokens the media routes need no link, and a per-process key will do.
    """
    tokens = [s.get_secret_value() for s in settings.api_tokens.values()]
    if settings.api_token is not None:
        tokens.append(settings.api_token.get_secret_value())
    if not tokens:
        return None
    material = "\n".join(sorted(tokens)).encode()
    return hmac.new(material, b"i2v signed media links v1", hashlib.sha256).digest()


class LinkSigner:
    """Makes and checks signed media links with a secret held in memory."""

    def __init__(
        self, secret: bytes | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        # Without a shared secret, a fresh one per process: a restart only ends old links early.
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock

    def sign(self, job_id: str, kind: str, expires: int) -> str:
        """The signature of a link to ``kind`` of ``job_id`` that works until ``expires``."""
        message = f"{job_id}\n{kind}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def link(self, job_id: str, kind: str) -> tuple[str, int]:
        """A signed URL path for the media and the Unix time it stops working."""
        expires = int(self._clock()) + LINK_SECONDS
        query = urlencode({"expires": expires, "signature": self.sign(job_id, kind, expires)})
        return f"/v1/jobs/{job_id}/{kind}?{query}", expires

    def is_valid(self, job_id: str, kind: str, expires: int | None, signature: str | None) -> bool:
        """True for an unexpired link whose signature this server made."""
        if expires is None or not signature or expires < self._clock():
            return False
        return hmac.compare_digest(self.sign(job_id, kind, expires), signature)
