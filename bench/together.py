"""Bench worker processes started together, so none drains the queue before the rest are up."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def start_together(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per ``args``; let them go once all are ready.

    Spawned workers take a second or more to import on a busy machine: started one by
    one, the first would drain the queue alone and the first paced jobs would wait
    for workers still starting. Each calls ``ready.put(...)`` then ``go.wait()``.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=target, args=(*a, ready, go)) for a in args]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    go.set()
    return procs
