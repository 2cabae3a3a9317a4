"""The worker: a supervisor that holds leases and deadlines, and a child process that owns the engine.

Start one with ``Worker(store, settings, WorkerOptions(...)).run()`` (``i2v worker``).
"""

from i2v.worker.core import WorkerOptions
from i2v.worker.signals import install_stop_handlers
from i2v.worker.supervisor import Worker

__all__ = ["Worker", "WorkerOptions", "install_stop_handlers"]
