"""Keep the children running: start them, restart a crashed one with backoff, stop them all gently."""

from __future__ import annotations

import enum
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from i2v.launcher.children import ChildSpec
from i2v.launcher.control import ControlFolder, Request
from i2v.launcher.process import ChildProcess

log = logging.getLogger(__name__)
#: Child output goes here, one logger per child, so the log file can tell them apart.
child_log = logging.getLogger("i2v.child")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
#: A child that ran this long before dying starts over at the first backoff.
STABLE_SECONDS = 60.0
#: Exit code 2 is i2v's "bad configuration or arguments, found at start-up": restarting
#: cannot help. Every other exit (a crash, a kill, an error after start-up) is restarted.
CONFIG_ERROR_EXIT = 2
#: A child that ran this long was past its start-up: even an exit 2 is restarted then.
START_UP_SECONDS = 30.0
#: Exit code 4: another process already does this child's work (another bot polls its
#: token). Starting it again, at any age, would only resume the fight; a person decides.
ANOTHER_INSTANCE_EXIT = 4
STATUS_EVERY_SECONDS = 1.0
#: In a rolling restart, how long a restarted child must stay up before the next one stops.
ROLL_SETTLE_SECONDS = 2.0


class State(str, enum.Enum):
    """Where one child is."""

    WAITING = "waiting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    #: Exited with a configuration error; not restarted until the supervisor is.
    GAVE_UP = "gave up"


@dataclass
class Slot:
    """A child the supervisor keeps alive, across the processes that fill it."""

    spec: ChildSpec
    state: State = State.WAITING
    process: ChildProcess | None = None
    start_at: float = 0.0
    backoff: float = 0.0
    kill_at: float = 0.0
    started_at: float = 0.0
    killed: bool = False
    #: Set while the child is being restarted on request: stopping, or waiting to start.
    rolling: bool = False
    restarts: int = 0


class Supervisor:
    """Runs ``specs`` until asked to stop; ``tick()`` does one round of the work."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        control: ControlFolder | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = [Slot(spec) for spec in specs]
        self.control = control
        self.clock = clock
        self.stopping = False
        self._restart_queue: list[Slot] = []
        self._request: Request | None = None
        self._status_at = 0.0
        self._settle_until = 0.0

    # --- the loop ---------------------------------------------------------------
    def run(self, should_stop: Callable[[], bool], force: Callable[[], bool]) -> int:
        """Supervise until ``should_stop()``; then stop every child (at once if ``force()``)."""
        try:
            while not should_stop() and not self.stopping:
                self.tick()
                time.sleep(0.2)
            self.stop(force)
        finally:
            if self.control is not None:
                self.control.remove_status(os.getpid())
        return 0

    def tick(self) -> None:
        """Reap ended children, start due ones, kill overdue ones, and serve requests."""
        now = self.clock()
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is not None:
                self._ended(slot, now)
            if slot.state is State.WAITING and now >= slot.start_at and not self.stopping:
                self._start(slot, now)
            if slot.state is State.STOPPING and now >= slot.kill_at:
                self._kill(slot)
        if not self.stopping:
            self._serve_requests()
            self._roll_restarts(now)
        if self.control is not None and now - self._status_at >= STATUS_EVERY_SECONDS:
            self._status_at = now
            self.control.write_status(os.getpid(), self.status())

    def stop(self, force: Callable[[], bool] = lambda: False) -> None:
        """Stop every child gracefully, killing any that outlive its stop budget."""
        self.stopping = True
        now = self.clock()
        for slot in self.slots:
            if slot.state is State.RUNNING:
                self._request_stop(slot, now)
            elif slot.state is State.WAITING:
                slot.state = State.STOPPED
        while any(slot.state is State.STOPPING for slot in self.slots):
            if force():
                for slot in self.slots:
                    self._kill(slot)
            self.tick()
            time.sleep(0.1)

    # --- transitions -------------------------------------------------------------
    def _start(self, slot: Slot, now: float) -> None:
        try:
            slot.process = ChildProcess(slot.spec, _log_line)
        except OSError as exc:
            log.error("cannot start %s: %s", slot.spec.name, exc)
            self._schedule_restart(slot, now, ran=0.0)
            return
        slot.state, slot.started_at, slot.killed = State.RUNNING, now, False
        if slot.rolling:
            slot.rolling = False
            self._settle_until = now + ROLL_SETTLE_SECONDS
        log.info("started %s (pid %s)", slot.spec.name, slot.process.pid)

    def _ended(self, slot: Slot, now: float) -> None:
        assert slot.process is not None
        code = slot.process.poll()
        ran = now - slot.started_at
        slot.process = None
        if slot.rolling and not self.stopping:
            log.info("%s stopped (exit %s); starting it again", slot.spec.name, code)
            slot.state, slot.start_at, slot.backoff = State.WAITING, now, 0.0
            slot.restarts += 1
        elif self.stopping:
            log.info("%s stopped (exit %s)", slot.spec.name, code)
            slot.state = State.STOPPED
        elif code == CONFIG_ERROR_EXIT and ran < START_UP_SECONDS:
            log.error(
                "%s exited with code 2 (bad configuration or arguments; see its last lines "
                "above); not restarting it. Fix the setting and start i2v up again",
                slot.spec.name,
            )
            slot.state = State.GAVE_UP
        elif code == ANOTHER_INSTANCE_EXIT:
            log.error(
                "%s stopped because another process already does its work (see its last "
                "lines above); not restarting it",
                slot.spec.name,
            )
            slot.state = State.GAVE_UP
        else:
            self._schedule_restart(slot, now, ran)
            log.warning(
                "%s ended unexpectedly (exit %s); restarting it in %.0f s",
                slot.spec.name,
                code,
                slot.backoff,
            )

    def _schedule_restart(self, slot: Slot, now: float, ran: float) -> None:
        if ran >= STABLE_SECONDS or slot.backoff == 0:
            slot.backoff = FIRST_BACKOFF_SECONDS
        else:
            slot.backoff = min(MAX_BACKOFF_SECONDS, slot.backoff * 2)
        slot.state, slot.start_at = State.WAITING, now + slot.backoff
        slot.restarts += 1

    def _request_stop(self, slot: Slot, now: float) -> None:
        assert slot.process is not None
        log.info("stopping %s (pid %s)", slot.spec.name, slot.process.pid)
        slot.process.request_stop()
        slot.state, slot.kill_at = State.STOPPING, now + slot.spec.stop_seconds

    def _kill(self, slot: Slot) -> None:
        if slot.process is not None and slot.state is State.STOPPING and not slot.killed:
            log.warning("killing %s (pid %s)", slot.spec.name, slot.process.pid)
            slot.process.kill()
            slot.killed = True

    # --- requests from i2v restart / i2v down ---------------------------------------
    def _serve_requests(self) -> None:
        if self.control is None or self._request is not None:
            return
        for request in self.control.pending(os.getpid()):
            if request.action == "stop":
                log.info("stop requested (i2v down)")
                self.control.done(request)
                self.stopping = True
                return
            if request.action == "restart":
                roles = set(request.roles) or {slot.spec.role for slot in self.slots}
                self._restart_queue = [s for s in self.slots if s.spec.role in roles]
                log.info("restart requested for %s", ", ".join(sorted(roles)))
                self._request = request
                return
            log.warning("ignoring unknown request %r", request.action)
            self.control.done(request)

    def _roll_restarts(self, now: float) -> None:
        """Restart the queued children one at a time, so the others keep serving."""
        if now < self._settle_until or any(s.rolling for s in self.slots):
            return
        while self._restart_queue:
            slot = self._restart_queue.pop(0)
            if slot.state is State.RUNNING:
                slot.rolling = True
                self._request_stop(slot, now)
                return
            if slot.state is State.GAVE_UP:
                slot.state, slot.start_at, slot.backoff = State.WAITING, now, 0.0
        # Nothing is stopping and nothing is left to stop: the restart is done.
        if self._request is not None and self.control is not None:
            self.control.done(self._request)
            self._request = None

    def status(self) -> dict[str, object]:
        """What this supervisor runs, for ``i2v restart`` / ``i2v down`` and people."""
        return {
            "host": socket.gethostname(),
            "children": [
                {
                    "name": slot.spec.name,
                    "role": slot.spec.role,
                    "state": slot.state.value,
                    "pid": slot.process.pid if slot.process else None,
                    "restarts": slot.restarts,
                }
                for slot in self.slots
            ],
        }


def _log_line(name: str, line: str) -> None:
    child_log.info("%s", line, extra={"child": name})
