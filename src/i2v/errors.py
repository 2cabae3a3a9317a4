"""The i2v exception tree and the stable job error codes.

Every error i2v raises on purpose derives from :class:`I2VError`; front ends
translate them into one clear line (CLI), a chat message (bot) or a
problem+json body (API), and never show a traceback for them::

    I2VError
    ├── ConfigError          a setting has a value that is not allowed
    ├── InputError           a photo or an option the user gave is unusable
    ├── StoreError           the database cannot be reached or used
    │   ├── StoreUnavailable the database is out of reach for now (outage): retry later
    │   ├── SchemaError      the database schema is missing or too new
    │   ├── JobNotFound      no job has that id
    │   ├── MediaNotFound    the job has no such media (never made, or purged)
    │   └── LeaseLost        a worker wrote with a lease it no longer holds
    └── EngineError          a model could not be loaded or run (carries a code)
        └── Canceled         generation stopped because cancel was requested

:class:`ErrorCode` values are stored on failed jobs and reused by every front
end, so a user, a script and a metrics dashboard all see the same word.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class ErrorCode(str, enum.Enum):
    """Why a job failed; stable strings shared by the CLI, bot, API and metrics."""

    #: The input photo or options were unusable (found after submission).
    INVALID_INPUT = "invalid_input"
    #: The model weights could not be loaded (missing, corrupt, out of memory at load).
    MODEL_LOAD_FAILED = "model_load_failed"
    #: The GPU ran out of memory while generating.
    OUT_OF_MEMORY = "out_of_memory"
    #: The job stopped making progress and was retried until attempts ran out.
    STALLED = "stalled"
    #: The job ran far longer than its estimate and was retried until attempts ran out.
    TIMEOUT = "timeout"
    #: The worker holding the job vanished (lease expired) too many times.
    WORKER_LOST = "worker_lost"
    #: The job waited in the queue longer than the queue TTL.
    EXPIRED = "expired"
    #: Encoding the video failed.
    ENCODE_FAILED = "encode_failed"
    #: Anything else; the message says what happened.
    INTERNAL = "internal"


class I2VError(Exception):
    """Base class of every error i2v raises on purpose."""


class ConfigError(I2VError):
    """A setting has a value that is not allowed."""


class InputError(I2VError):
    """A photo or an option given by the user cannot be used.

    ``code`` names the sentence in :mod:`i2v.messages` that says it in the user's
    language, filled in from ``params``; the message itself is the English one.
    """

    def __init__(
        self, message: str, *, code: str = "", params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, Any] = dict(params or {})


class StoreError(I2VError):
    """The job database cannot be reached or used."""


class StoreUnavailable(StoreError):
    """The database is out of reach for now: server down or restarting, disk full, I/O error.

    Unlike the other store errors it says nothing about the request, so the same call can
    succeed later: long-running processes ride it out (retry with backoff) instead of exiting.
    """


class SchemaError(StoreError):
    """The database schema is missing, or newer than this program knows."""


class JobNotFound(StoreError):
    """No job has the given id."""


class MediaNotFound(StoreError):
    """The job has no media of the requested kind (never made, or purged)."""


class LeaseLost(StoreError):
    """A worker wrote to a job with a lease it no longer holds; it must drop the job."""


class EngineError(I2VError):
    """A model could not be loaded or run; ``code`` says which way it failed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Canceled(EngineError):
    """Generation stopped because the job's cancel flag was set."""

    def __init__(self, message: str = "canceled") -> None:
        super().__init__(ErrorCode.INTERNAL, message)
