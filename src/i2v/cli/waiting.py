"""Long-running commands (``i2v bot``, ``i2v api``) wait for a database that is out of reach.

A database that is down at start-up is an outage, not a bad setting: exiting with
code 2 would make ``i2v up`` and the systemd units give up on the process for
good. A wrong URL or password still fails at once (ConfigError / StoreError).
"""

from __future__ import annotations

import logging
import time

from i2v.cli.context import CliContext
from i2v.errors import StoreUnavailable
from i2v.store import JobStore

log = logging.getLogger(__name__)

#: Longest wait between two tries of a database that is out of reach at start-up.
BACKOFF_MAX_SECONDS = 10.0


def wait_for_store(cli: CliContext, who: str) -> JobStore:
    """Open the store, waiting with a capped backoff while the database is out of reach."""
    began: float | None = None
    backoff = 1.0
    while True:
        try:
            store = cli.store
        except StoreUnavailable as exc:
            if began is None:
                began = time.monotonic()
                log.warning(
                    "%s: %s; waiting for the database (if this lasts, check I2V_DATABASE_URL)",
                    who,
                    exc,
                )
            time.sleep(backoff)
            backoff = min(BACKOFF_MAX_SECONDS, backoff * 2)
            continue
        if began is not None:
            log.warning(
                "%s: the database is reachable after %.0f s; starting",
                who,
                time.monotonic() - began,
            )
        return store
