"""``i2v doctor``: is this machine ready to make videos, and if not, what to do about it.

Each check answers PASS, WARN or FAIL with a fix in plain words. Checks read the
machine through a :class:`~i2v.doctor.findings.Probe` (GPUs, PyTorch, disk,
Telegram), so tests can hand them a fake one. Nothing here imports torch: PyTorch
is inspected in a separate Python process, so a broken CUDA install cannot hang
or crash the doctor itself.
"""

from i2v.doctor.findings import Finding, Probe, Status, TelegramAnswer, TorchInfo
from i2v.doctor.report import run_checks
from i2v.doctor.system import SystemProbe

__all__ = ["Finding", "Probe", "Status", "SystemProbe", "TelegramAnswer", "TorchInfo", "run_checks"]
