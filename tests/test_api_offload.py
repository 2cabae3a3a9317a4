"""Blocking work runs in lanes: at most a lane's threads at once, in the caller's context."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from i2v.api.offload import Lane, Offload


def test_no_more_photo_checks_run_at_once_than_the_lane_allows() -> None:
    offload = Offload(serial_writes=True, image_threads=2)
    lock = threading.Lock()
    running = 0
    most = 0
    release = threading.Event()

    def check() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(timeout=30)
        with lock:
            running -= 1

    async def main() -> None:
        tasks = [asyncio.create_task(offload.image(check)) for _ in range(5)]
        # Wait until the lane is full, then give the others a real chance to squeeze in.
        while True:
            with lock:
                if running == 2:
                    break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())

    assert most == 2
    assert running == 0


def test_a_call_runs_in_the_callers_context_and_its_error_reaches_the_caller() -> None:
    # The request's language lives in a context variable; the store read must see it.
    language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")
    lane = Lane("test", threads=2)

    def fail() -> None:
        raise ValueError(f"refused in {language.get()}")

    async def main() -> tuple[str, str]:
        language.set("ru")
        seen = await lane.run(language.get)
        with pytest.raises(ValueError) as refused:
            await lane.run(fail)
        return seen, str(refused.value)

    assert asyncio.run(main()) == ("ru", "refused in ru")


def test_an_idle_lanes_threads_end_and_the_next_call_starts_one_again() -> None:
    lane = Lane("idle-test", threads=3, idle_seconds=0.05)
    workers: set[int] = set()

    def square(n: int) -> int:
        workers.add(threading.get_ident())
        time.sleep(0.001)
        return n * n

    def lane_threads() -> int:
        return sum(thread.name == "i2v-idle-test" for thread in threading.enumerate())

    async def burst() -> list[int]:
        return await asyncio.gather(*(lane.run(square, n) for n in range(10)))

    assert asyncio.run(burst()) == [n * n for n in range(10)]
    assert 1 <= len(workers) <= 3
    deadline = time.monotonic() + 10
    while lane_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lane_threads() == 0
    assert asyncio.run(burst()) == [n * n for n in range(10)]
