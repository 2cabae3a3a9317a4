"""Claimer processes for the store race tests (a plain module, so spawned children can import it)."""

from __future__ import annotations

import threading

from i2v.store import open_store_url


def claim_until_empty(url: str, process: int, threads: int) -> list[str]:
    """Run ``threads`` claimers in this process until the queue is empty; return what each took."""
    store = open_store_url(url, migrate=False)
    taken: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        worker = f"p{process}-t{n}"
        misses = 0
        while misses < 3:
            lease = store.claim(worker)
            if lease is None:
                misses += 1
                continue
            misses = 0
            store.succeed(lease.job.id, lease.token, result={"by": worker}, video=b"v")
            with lock:
                taken.append(lease.job.id)

    pool = [threading.Thread(target=claimer, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    store.close()
    return taken
