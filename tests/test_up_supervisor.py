"""The supervisor behind `i2v up`, with small real child processes that crash, stop or refuse to."""

from __future__ import annotations

import logging
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from i2v.launcher import ChildSpec, ControlFolder, Supervisor
from i2v.launcher.supervisor import State

# A child that records each start and each stop signal in a journal file.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    journal, behaviour = sys.argv[1], sys.argv[2]
    def note(word):
        with open(journal, "a") as f:
            f.write(f"{word} {os.getpid()} {time.monotonic():.3f}\\n")
    note("start")
    print("hello from", os.getpid(), flush=True)
    if behaviour == "crash":
        time.sleep(0.2)
        sys.exit(1)
    if behaviour == "bad-config":
        print("invalid setting: I2V_SOMETHING", flush=True)
        sys.exit(2)
    def on_stop(signum, frame):
        note("signal")
        if behaviour == "graceful":
            time.sleep(0.3)  # finishing the job at hand
            note("clean-exit")
            sys.exit(0)
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_stop)
    while True:
        time.sleep(0.05)
    """
)


def child(tmp_path: Path, name: str, behaviour: str, stop_seconds: float = 5.0) -> ChildSpec:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    journal = tmp_path / f"{name}.journal"
    return ChildSpec(
        name, "worker", [sys.executable, str(script), str(journal), behaviour], {}, stop_seconds
    )


def journal(tmp_path: Path, name: str) -> list[tuple[str, int, float]]:
    path = tmp_path / f"{name}.journal"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        word, pid, at = line.split()
        entries.append((word, int(pid), float(at)))
    return entries


def starts(tmp_path: Path, name: str) -> list[tuple[str, int, float]]:
    return [e for e in journal(tmp_path, name) if e[0] == "start"]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture
def running() -> Iterator[Callable[[Supervisor], threading.Event]]:
    """Run supervisors in threads; stop them (gracefully) at the end of the test."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(supervisor: Supervisor) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=supervisor.run, args=(stop.is_set, lambda: False))
        thread.start()
        started.append((thread, stop))
        return stop

    yield start
    for thread, stop in started:
        stop.set()
        thread.join(timeout=30)


def test_a_crashing_child_is_restarted_with_growing_backoff(tmp_path: Path, running) -> None:
    running(Supervisor([child(tmp_path, "w", "crash")]))
    wait_for(lambda: len(starts(tmp_path, "w")) >= 3)
    times = [at for _, _, at in starts(tmp_path, "w")]
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert first_gap >= 1.0
    assert second_gap >= 2.0
    assert second_gap > first_gap


def test_stop_sends_one_signal_and_waits_for_a_clean_exit(tmp_path: Path) -> None:
    supervisor = Supervisor([child(tmp_path, "w", "graceful")])
    supervisor.tick()
    wait_for(lambda: bool(starts(tmp_path, "w")))
    supervisor.stop()
    words = [word for word, _, _ in journal(tmp_path, "w")]
    assert words == ["start", "signal", "clean-exit"]
    assert supervisor.slots[0].state is State.STOPPED


def test_a_child_that_ignores_the_stop_signal_is_killed_after_its_budget(tmp_path: Path) -> None:
    supervisor = Supervisor([child(tmp_path, "w", "stubborn", stop_seconds=0.5)])
    supervisor.tick()
    wait_for(lambda: bool(starts(tmp_path, "w")))
    began = time.monotonic()
    supervisor.stop()
    assert 0.5 <= time.monotonic() - began < 5
    assert supervisor.slots[0].state is State.STOPPED
    assert [w for w, _, _ in journal(tmp_path, "w")] == ["start", "signal"]


def test_a_child_with_a_configuration_error_is_not_restarted(tmp_path: Path) -> None:
    supervisor = Supervisor([child(tmp_path, "w", "bad-config")])
    supervisor.tick()
    wait_for(lambda: (supervisor.tick(), supervisor.slots[0].state)[1] is State.GAVE_UP)
    time.sleep(1.5)
    supervisor.tick()
    assert len(starts(tmp_path, "w")) == 1


def test_child_output_reaches_the_log_under_the_childs_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="i2v.child")
    supervisor = Supervisor([child(tmp_path, "worker-0", "graceful")])
    supervisor.tick()
    wait_for(lambda: any("hello from" in r.getMessage() for r in caplog.records))
    supervisor.stop()
    record = next(r for r in caplog.records if "hello from" in r.getMessage())
    assert record.child == "worker-0"  # type: ignore[attr-defined]


def test_a_restart_request_restarts_each_child_gracefully_one_at_a_time(
    tmp_path: Path, running
) -> None:
    control = ControlFolder(tmp_path / "data")
    specs = [child(tmp_path, "a", "graceful"), child(tmp_path, "b", "graceful")]
    running(Supervisor(specs, control))
    wait_for(lambda: len(control.live_supervisors()) == 1)
    wait_for(lambda: bool(starts(tmp_path, "a")) and bool(starts(tmp_path, "b")))
    (status,) = control.live_supervisors()
    request = control.send(int(status["pid"]), "restart", ["worker"])
    wait_for(lambda: not request.exists())
    for name in ("a", "b"):
        assert [w for w, _, _ in journal(tmp_path, name)] == [
            "start",
            "signal",
            "clean-exit",
            "start",
        ]
    # One at a time: b was asked to stop only after a was back.
    a_back = starts(tmp_path, "a")[1][2]
    b_signalled = next(at for word, _, at in journal(tmp_path, "b") if word == "signal")
    assert b_signalled >= a_back


def test_a_stop_request_stops_the_supervisor_and_withdraws_its_status(
    tmp_path: Path,
) -> None:
    control = ControlFolder(tmp_path / "data")
    supervisor = Supervisor([child(tmp_path, "w", "graceful")], control)
    thread = threading.Thread(
        target=supervisor.run, args=(lambda: supervisor.stopping, lambda: False)
    )
    thread.start()
    wait_for(lambda: len(control.live_supervisors()) == 1)
    control.send(int(control.live_supervisors()[0]["pid"]), "stop")
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert control.live_supervisors() == []
    assert [w for w, _, _ in journal(tmp_path, "w")] == ["start", "signal", "clean-exit"]


def test_an_exit_2_long_after_start_up_is_not_a_configuration_error_and_is_restarted(
    tmp_path: Path,
) -> None:
    now = [0.0]
    supervisor = Supervisor([child(tmp_path, "w", "bad-config")], clock=lambda: now[0])
    supervisor.tick()
    slot = supervisor.slots[0]
    assert slot.process is not None
    wait_for(lambda: slot.process is not None and slot.process.poll() is not None)
    now[0] = 31.0  # it ran past its start-up before exiting
    supervisor.tick()
    assert slot.state is State.WAITING
    assert slot.restarts == 1
