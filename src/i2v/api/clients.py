"""Who is calling: named API clients, their tokens, and which jobs each may touch.

``I2V_API_TOKENS=alice:<token>,ci:<token>`` names the clients; ``I2V_API_ADMINS``
marks some of them admins; ``I2V_API_TOKEN`` is the client ``admin``, an admin.
Without any token the API serves loopback only, to one local user who is an
admin, as the CLI is. A job submitted through the API is owned by ``api:<name>``;
a client that is not an admin sees only its own jobs, and another's job answers
404 exactly as a job that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from i2v.config import Settings
from i2v.config.settings import LEGACY_CLIENT
from i2v.jobs import Job

#: API owners are namespaced, so they never collide with a Telegram user id or the CLI.
OWNER_PREFIX = "api:"
#: The one caller of a tokenless API (loopback only): the local user, an admin like the CLI.
LOCAL_CLIENT = "local"


@dataclass(frozen=True)
class Caller:
    """An admitted API caller."""

    #: The client's name from I2V_API_TOKENS (``admin`` for I2V_API_TOKEN, ``local`` without).
    name: str
    #: Admins see, read and cancel every job, whoever submitted it.
    is_admin: bool
    #: The key of the caller's rate-limit bucket (never the token itself).
    rate_key: str

    @property
    def owner(self) -> str:
        """The owner recorded on jobs this caller submits."""
        return OWNER_PREFIX + self.name

    @property
    def scope(self) -> str | None:
        """The owner filter for store reads: None (every job) for an admin."""
        return None if self.is_admin else self.owner

    def may_see(self, job: Job) -> bool:
        """True when the job is this caller's, or the caller is an admin."""
        return self.is_admin or job.spec.owner == self.owner


def shown_owner(owner: str | None, source: str) -> str | None:
    """The owner as the API shows it: a client's name, ``telegram:<id>`` or ``cli``."""
    if owner is None:
        return source if source == "cli" else None
    if owner.startswith(OWNER_PREFIX):
        return owner[len(OWNER_PREFIX) :]
    if owner.startswith(("token:", "addr:")):
        # Jobs from before named clients were owned by a token digest; show no part of it.
        return None
    return f"{source}:{owner}"


@dataclass(frozen=True)
class _Client:
    name: str
    token: bytes
    is_admin: bool


class ClientTable:
    """The configured clients; finds the one a presented token belongs to."""

    def __init__(self, settings: Settings) -> None:
        admins = set(settings.api_admins)
        clients = [
            _Client(name, secret.get_secret_value().encode(), name in admins)
            for name, secret in settings.api_tokens.items()
        ]
        if settings.api_token is not None:
            clients.append(
                _Client(LEGACY_CLIENT, settings.api_token.get_secret_value().encode(), True)
            )
        self._clients = tuple(clients)

    @property
    def is_empty(self) -> bool:
        """True when no token is configured (the tokenless loopback mode)."""
        return not self._clients

    def identify(self, presented: str) -> Caller | None:
        """The caller whose token this is, or None; takes the same time for every client."""
        given = presented.encode()
        found: _Client | None = None
        for client in self._clients:
            # compare_digest takes time independent of where the bytes differ; no early exit.
            if hmac.compare_digest(given, client.token) and found is None:
                found = client
        if found is None:
            return None
        # Buckets are keyed by the client's name and a digest, never by the token itself.
        digest = hashlib.sha256(found.token).hexdigest()[:16]
        return Caller(found.name, found.is_admin, f"client:{found.name}:{digest}")

    @staticmethod
    def local(address: str) -> Caller:
        """The caller of a tokenless API, rate limited by its address."""
        return Caller(LOCAL_CLIENT, True, f"addr:{address}")
