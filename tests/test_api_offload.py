"""The photo-check lane runs at most I2V_API_PHOTO_CHECKS checks at once; the rest wait."""

from __future__ import annotations

import asyncio
import threading

from i2v.api.offload import Offload


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
