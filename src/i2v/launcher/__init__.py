"""``i2v up``: the bot, the HTTP API and one worker per GPU as supervised child processes.

The launcher never imports the worker, the bot or the engines: it runs their
command lines (``i2v worker``, ``i2v bot``, ``i2v api``) as child processes,
restarts one that crashes with backoff, and stops them gracefully. Other
processes on the host (``i2v restart``, ``i2v down``, the start/restart
scripts) talk to it through request files in ``<data dir>/run``.
"""

from i2v.launcher.children import ChildSpec, plan_children
from i2v.launcher.control import ControlFolder
from i2v.launcher.supervisor import Supervisor

__all__ = ["ChildSpec", "ControlFolder", "Supervisor", "plan_children"]
