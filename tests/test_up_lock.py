"""One `i2v up` per data folder, one bot per database: the locks, and who they name when taken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from i2v.launcher.instance import AlreadyRunning, InstanceLock
from i2v.store.botlock import BotLock


def test_a_second_holder_of_the_data_folder_is_refused_with_the_first_ones_pid_and_host(
    tmp_path: Path,
) -> None:
    first = InstanceLock.for_data_dir(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock.for_data_dir(tmp_path).acquire()
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message
        assert "another i2v up already runs on the data folder" in message
        assert "started 20" in message  # the holder's start time
    finally:
        first.release()
    # Released: the next one gets it.
    again = InstanceLock.for_data_dir(tmp_path)
    again.acquire()
    again.release()


def test_the_data_folder_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from i2v.launcher.instance import InstanceLock; "
            f"lock = InstanceLock.for_data_dir(pathlib.Path({str(tmp_path)!r})); lock.acquire(); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            InstanceLock.for_data_dir(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    lock = InstanceLock.for_data_dir(tmp_path)
    lock.acquire()  # no stale lock file stands in the way
    lock.release()


def test_one_bot_lock_per_postgres_database_naming_the_holder(postgres_url: str) -> None:
    first = BotLock(postgres_url, "i2v up pid 4242 on laptop")
    assert first.acquire() is None
    try:
        holder = BotLock(postgres_url, "i2v up pid 99 on desktop").acquire()
        assert holder is not None
        assert "i2v up pid 4242 on laptop" in holder
        assert "connected since" in holder
    finally:
        first.release()
    second = BotLock(postgres_url, "i2v up pid 99 on desktop")
    assert second.acquire() is None
    second.release()


def test_bot_locks_of_different_databases_do_not_meet(postgres_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    other = sa.make_url(postgres_url).set(database="postgres").render_as_string(False)
    first, second = BotLock(postgres_url, "a"), BotLock(other, "b")
    try:
        assert first.acquire() is None
        assert second.acquire() is None
    finally:
        first.release()
        second.release()
