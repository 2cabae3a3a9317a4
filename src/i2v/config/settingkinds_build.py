"""Writes :mod:`i2v.config.settingkinds` from :class:`~i2v.config.Settings`.

    python scripts/update_fast_reads.py [--check]

Each setting gets the kind of check :mod:`i2v.config.essentials` may make without
pydantic: ``text`` (any text is taken), ``path``, ``int`` and ``float`` (with their
bounds), ``choice``, or ``check`` (a list, a secret with rules, a setting with its own
validator or one a relation between settings reads: only Settings can tell).
"""

from __future__ import annotations

import enum
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr

from i2v.config.settings import Settings

MODULE = Path(__file__).with_name("settingkinds.py")
_BOUND_NAMES = ("ge", "gt", "le", "lt")


class _Recorder:
    """Stands in for a Settings object and notes which settings a model validator reads."""

    def __init__(self) -> None:
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return Settings.model_fields[name].get_default(call_default_factory=True)


def _checked_elsewhere() -> set[str]:
    """Settings that a field validator or a model validator looks at."""
    decorators = Settings.__pydantic_decorators__
    names = {name for d in decorators.field_validators.values() for name in d.info.fields}
    for validator in decorators.model_validators.values():
        recorder = _Recorder()
        validator.func(recorder)
        names |= recorder.read
    return names


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _kind(name: str, checked: set[str]) -> tuple[str, tuple[Any, ...]]:
    """The kind of one setting and its bounds (numbers) or choices."""
    field = Settings.model_fields[name]
    annotation = _without_none(field.annotation)
    bounds = [m for m in field.metadata if isinstance(m, annotated_types.BaseMetadata)]
    if name in checked or len(bounds) != len(field.metadata):
        return "check", ()
    if annotation in (str, SecretStr) and not bounds:
        return "text", ()
    if annotation is Path and not bounds:
        return "path", ()
    if annotation in (int, float):
        found = {key: getattr(b, key) for b in bounds for key in _BOUND_NAMES if hasattr(b, key)}
        return annotation.__name__, tuple(found.get(key) for key in _BOUND_NAMES)
    if get_origin(annotation) is Literal and all(isinstance(a, str) for a in get_args(annotation)):
        return "choice", get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and not bounds:
        return "choice", tuple(str(member.value) for member in annotation)
    return "check", ()


def _literal(value: Any) -> str:
    """Python source for a str, number, None or tuple of them, as ruff formats it."""
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return repr(value)


def render() -> str:
    """The text of settingkinds.py for the current Settings."""
    checked = _checked_elsewhere()
    kinds = {name: _kind(name, checked) for name in Settings.model_fields}
    lines = [
        '"""How :mod:`i2v.config.essentials` may check each setting without pydantic.',
        "",
        "Generated from i2v.config.settings.Settings by scripts/update_fast_reads.py; do not",
        "edit (tests/test_config_essentials.py fails when it is out of date).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "#: Each setting's kind: text, path, int, float, choice, or check (only Settings can).",
        "KINDS: dict[str, str] = {",
        *(f"    {_literal(name)}: {_literal(kind)}," for name, (kind, _) in kinds.items()),
        "}",
        "#: (ge, gt, le, lt) of each int and float setting; None where there is no bound.",
        "BOUNDS: dict[str, tuple[float | None, float | None, float | None, float | None]] = {",
        *(
            f"    {_literal(name)}: {_literal(extra)},"
            for name, (kind, extra) in kinds.items()
            if kind in ("int", "float")
        ),
        "}",
        "#: What each choice setting takes, exactly as written.",
        "CHOICES: dict[str, tuple[str, ...]] = {",
        *(
            f"    {_literal(name)}: {_literal(extra)},"
            for name, (kind, extra) in kinds.items()
            if kind == "choice"
        ),
        "}",
        "#: Defaults of the settings essentials reads.",
        f"DEFAULT_LOG_LEVEL = {_literal(Settings.model_fields['log_level'].default)}",
        "DEFAULT_WORKER_LEASE_SECONDS = "
        + _literal(float(Settings.model_fields["worker_lease_seconds"].default)),
        "",
    ]
    return "\n".join(lines)
