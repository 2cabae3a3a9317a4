"""Prometheus metrics read from the store at scrape time.

Gauges (jobs by status, queue depth and age, worker states, GPU readings) are read
fresh from the store on every scrape, so they are right whichever host did the work.

Counters and the stage-duration histogram need every finished job counted once.
The store keeps only averages (for ETAs), not distributions, so this process
builds them itself: on each scrape it reads the jobs that finished since the last
one and observes each new one: time queued, time running, and each stage's
seconds when the worker reports ``stage_seconds`` in the job's result. Like any
Prometheus counter they start at zero when the process starts; with several API
replicas, scrape one of them (each would count the same jobs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from i2v.errors import ErrorCode
from i2v.jobs import Job, JobStatus, WorkerState
from i2v.store import JobStore

#: Seconds: from a quick Ken Burns stage to a long diffusion run.
BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
#: Finished jobs are looked up this far behind the last scrape, for writes that committed late.
LOOKBACK_SECONDS = 60.0
TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
_MIB = 1024 * 1024


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
        self.counts[index] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        running, out = 0, []
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class FinishedJobs:
    """Counts each job that finishes while this process runs, exactly once."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._since = store.now()
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.finished: dict[tuple[str, str], int] = {}
        self.attempts = 0
        self.retries = 0
        self.stalls = 0
        self.timeouts = 0
        self.stages: dict[str, _Histogram] = {}

    def refresh(self) -> None:
        """Observe the jobs that finished since the last refresh."""
        with self._lock:
            jobs = self.store.list_jobs(
                statuses=TERMINAL, updated_after=self._since - LOOKBACK_SECONDS, limit=10_000
            )
            for job in jobs:
                finished = job.finished_at.timestamp() if job.finished_at else None
                if finished is None or finished < self._since - LOOKBACK_SECONDS:
                    continue
                if job.id not in self._seen:
                    self._seen[job.id] = finished
                    self._observe(job)
            newest = max(self._seen.values(), default=self._since)
            self._since = max(self._since, newest)
            cutoff = self._since - LOOKBACK_SECONDS
            self._seen = {k: v for k, v in self._seen.items() if v >= cutoff}

    def _observe(self, job: Job) -> None:
        code = job.error_code.value if job.error_code and job.status is JobStatus.FAILED else ""
        key = (job.status.value, code)
        self.finished[key] = self.finished.get(key, 0) + 1
        self.attempts += job.attempts
        self.retries += max(0, job.attempts - 1)
        # A job's error code is its last attempt's: a stall that was retried shows here too.
        self.stalls += job.error_code is ErrorCode.STALLED
        self.timeouts += job.error_code is ErrorCode.TIMEOUT
        if job.created_at and job.started_at:
            self._stage("queued").observe((job.started_at - job.created_at).total_seconds())
        if job.started_at and job.finished_at:
            self._stage("running").observe((job.finished_at - job.started_at).total_seconds())
        stage_seconds = job.result.get("stage_seconds")
        if isinstance(stage_seconds, Mapping):
            for stage, seconds in stage_seconds.items():
                if isinstance(seconds, (int, float)) and seconds >= 0:
                    self._stage(str(stage)).observe(float(seconds))

    def _stage(self, name: str) -> _Histogram:
        return self.stages.setdefault(name, _Histogram())


class StoreCollector(Collector):
    """Reads the store on each scrape and reports it in Prometheus terms."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.finished = FinishedJobs(store)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        """Yield every i2v metric."""
        yield from self._jobs()
        yield from self._workers()
        yield from self._history()

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily("i2v_jobs", "Jobs in the store by status.", labels=["status"])
        for status in JobStatus:
            by_status.add_metric([status.value], self.store.count_jobs(statuses=[status]))
        yield by_status
        queued = self.store.count_jobs(statuses=[JobStatus.QUEUED])
        yield GaugeMetricFamily("i2v_queue_depth", "Jobs waiting for a worker.", value=queued)
        oldest = self.store.list_jobs(statuses=[JobStatus.QUEUED], limit=1, oldest_first=True)
        age = 0.0
        if oldest and oldest[0].created_at is not None:
            age = max(0.0, self.store.now() - oldest[0].created_at.timestamp())
        yield GaugeMetricFamily(
            "i2v_queue_oldest_age_seconds", "How long the oldest queued job has waited.", value=age
        )

    def _workers(self) -> Iterator[GaugeMetricFamily]:
        workers = [w for w in self.store.list_workers() if self.store.is_worker_alive(w)]
        states = GaugeMetricFamily("i2v_workers", "Live workers by state.", labels=["state"])
        for state in WorkerState:
            states.add_metric([state.value], sum(w.state is state for w in workers))
        yield states
        util = GaugeMetricFamily(
            "i2v_gpu_utilization_ratio",
            "GPU busy share (0..1) reported by a worker.",
            labels=["worker", "gpu"],
        )
        used = GaugeMetricFamily(
            "i2v_gpu_memory_used_bytes",
            "VRAM in use reported by a worker.",
            labels=["worker", "gpu"],
        )
        total = GaugeMetricFamily(
            "i2v_gpu_memory_total_bytes", "VRAM on the GPU a worker uses.", labels=["worker", "gpu"]
        )
        for worker in workers:
            # The worker stores its latest i2v.gpu.GpuReading.to_dict(); absent without a GPU.
            gpu = worker.gpu
            labels = [worker.id, str(gpu.get("index", 0))]
            if _is_number(gpu.get("utilization_percent")):
                util.add_metric(labels, float(gpu["utilization_percent"]) / 100.0)
            if _is_number(gpu.get("memory_used_mb")):
                used.add_metric(labels, float(gpu["memory_used_mb"]) * _MIB)
            if _is_number(gpu.get("memory_total_mb")):
                total.add_metric(labels, float(gpu["memory_total_mb"]) * _MIB)
        yield from (util, used, total)

    def _history(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        seen = self.finished
        seen.refresh()
        finished = CounterMetricFamily(
            "i2v_jobs_finished",
            "Jobs that finished while this API process ran, by status and error code.",
            labels=["status", "code"],
        )
        for (status, code), count in sorted(seen.finished.items()):
            finished.add_metric([status, code], count)
        yield finished
        yield CounterMetricFamily(
            "i2v_job_attempts", "Attempts used by finished jobs.", value=seen.attempts
        )
        yield CounterMetricFamily(
            "i2v_job_retries", "Attempts beyond the first.", value=seen.retries
        )
        yield CounterMetricFamily(
            "i2v_job_stalls", "Finished jobs whose last attempt stalled.", value=seen.stalls
        )
        yield CounterMetricFamily(
            "i2v_job_timeouts",
            "Finished jobs whose last attempt ran past its deadline.",
            value=seen.timeouts,
        )
        stages = HistogramMetricFamily(
            "i2v_stage_duration_seconds",
            "Seconds finished jobs spent queued, running, and in each stage.",
            labels=["stage"],
        )
        for name, histogram in sorted(seen.stages.items()):
            stages.add_metric([name], histogram.buckets(), sum_value=histogram.total)
        yield stages


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def build_registry(store: JobStore) -> CollectorRegistry:
    """A registry of this app's own (no process-global state shared between apps)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
