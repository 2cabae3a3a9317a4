"""Lazy packages: a name is imported from its home module on first use, then kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import i2v.store as store
before = "sqlalchemy" in sys.modules
job_store = store.JobStore
from i2v.store.jobstore import JobStore
print(before, "sqlalchemy" in sys.modules, job_store is JobStore, "JobStore" in vars(store))
"""


def test_a_package_imports_a_name_from_its_home_only_when_first_used_and_keeps_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True", "True", "True"]


def test_a_name_a_lazy_package_does_not_export_is_an_attribute_error() -> None:
    import i2v.config

    with pytest.raises(AttributeError, match=r"'i2v\.config' has no attribute 'Setings'"):
        _ = i2v.config.Setings  # type: ignore[attr-defined]
