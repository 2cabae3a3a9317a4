"""Finding the function that builds the engine, from an import path like ``package.module:function``.

The path is a string so it can cross into the spawned child process, where the
engine is built; the supervisor never imports the engine (and so never torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from i2v.config import Settings
from i2v.engine.base import Engine
from i2v.errors import ConfigError

EngineFactory = Callable[[Settings], Engine]


def load_factory(path: str) -> EngineFactory:
    """Import ``module:attribute`` and return it; raise ConfigError if it is not there."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"the engine factory must look like package.module:function (got {path!r})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import the engine factory module {module_name!r}: {exc}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigError(f"{module_name!r} has no engine factory named {attribute!r}")
    return cast(EngineFactory, factory)
