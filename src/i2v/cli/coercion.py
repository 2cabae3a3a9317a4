"""Turning command-line words into values without pydantic, where the answer is plain.

Typer converts every parameter through a pydantic TypeAdapter, and importing pydantic
costs more than `i2v jobs` may take. For the plain cases (a text, a whole number within
its bounds, an enum member named exactly) :class:`QuickParam` gives the value pydantic
would give; anything else (a bad value, a path, a float, a custom parser) goes to
Typer's own conversion, so errors and unusual values read exactly as before.

This leans on Typer's internals (``typer._coercion``, the ``_runtime_param`` cache of
``typer.core``): where they are not as expected, parameters keep Typer's conversion.
"""

from __future__ import annotations

import enum
import re
import types
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import TyperCommand

_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def _plain(annotation: Any) -> Any:
    """``X`` for ``X | None``; the annotation itself otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else None
    return annotation


@dataclass(frozen=True)
class QuickParam(RuntimeParam):
    """Plain values converted here; every other one by Typer's own conversion."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        quick = self._quick(value)
        if quick is not None:
            return quick
        return build_runtime_param(param.type_descriptor)._coerce_value(value, param, ctx)

    def _quick(self, value: Any) -> Any:
        """The value pydantic would give, or None when only pydantic can tell."""
        info = self.parameter_info
        if getattr(info, "parser", None) is not None or getattr(info, "click_type", None):
            return None
        kind = _plain(self.annotation)
        if kind is str and isinstance(value, str):
            return value
        if kind is int and not isinstance(value, bool):
            if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
                value = int(value)
            if isinstance(value, int) and not info.clamp and _within(value, info.min, info.max):
                return value
            return None
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and info.case_sensitive:
            members = {str(m.value): m for m in kind}
            return members.get(value) if isinstance(value, str) else None
        return None


def _within(value: int, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def use_quick_conversion(param: Any) -> None:
    """Give one Typer parameter the QuickParam conversion (others are left as they are)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return
    if param.multiple or param.nargs != 1 or descriptor.file_annotation is not None:
        return
    param._runtime_param = QuickParam(
        parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
    )


class QuickCommand(TyperCommand):
    """A Typer command whose parameters (``--help`` too) convert plain values without pydantic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            use_quick_conversion(param)

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` option, with the QuickParam conversion."""
        option = super().get_help_option(ctx)
        use_quick_conversion(option)
        return option
