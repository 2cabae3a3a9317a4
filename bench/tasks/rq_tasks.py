"""The no-op task RQ workers run in bench/job_queue.py (importable by module name)."""


def noop() -> None:
    """Do nothing: the benchmark measures the queue, not the work."""
