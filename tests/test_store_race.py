"""Two processes with four claimers each race over one queue: every job is claimed exactly once."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from claimers import claim_until_empty
from i2v.jobs import JobSpec, JobStatus
from i2v.store import JobStore

JOBS = 500


def test_two_processes_with_four_claimers_each_claim_every_job_exactly_once(
    store: JobStore, store_url: str
) -> None:
    submitted = {store.submit(JobSpec(), b"p").id for _ in range(JOBS)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(claim_until_empty, [(store_url, 0, 4), (store_url, 1, 4)])

    claims = Counter(job_id for taken in results for job_id in taken)
    assert set(claims) == submitted
    assert max(claims.values()) == 1
    assert all(results), "both processes should have won some claims"
    assert store.count_jobs(statuses=[JobStatus.SUCCEEDED]) == JOBS
    assert {j.attempts for j in store.list_jobs(limit=JOBS)} == {1}
