"""A child that found another instance doing its work (exit 4: another bot polls its token)."""

from __future__ import annotations

import sys
from pathlib import Path

from i2v.launcher import ChildSpec, Supervisor
from i2v.launcher.supervisor import ANOTHER_INSTANCE_EXIT, State
from test_up_supervisor import wait_for


def test_a_child_that_exits_4_is_not_restarted_however_long_it_ran(tmp_path: Path) -> None:
    now = [0.0]
    exits_4 = [sys.executable, "-c", f"import sys; sys.exit({ANOTHER_INSTANCE_EXIT})"]
    supervisor = Supervisor([ChildSpec("bot", "bot", exits_4)], clock=lambda: now[0])
    supervisor.tick()
    slot = supervisor.slots[0]
    wait_for(lambda: slot.process is not None and slot.process.poll() is not None)
    now[0] = 3600.0  # long past its start-up: an exit 2 would be restarted now
    supervisor.tick()
    assert slot.state is State.GAVE_UP
    now[0] = 7200.0
    supervisor.tick()
    assert slot.restarts == 0 and slot.process is None
