"""``i2v doctor``: check this machine and say how to fix what is wrong."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from i2v.cli.context import JsonOption, get_context, print_json
from i2v.doctor import Finding, Status, SystemProbe, run_checks
from i2v.doctor.report import has_failures

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def doctor(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check Python, PyTorch, driver, VRAM, disk, weights, database, Telegram and encoder."""
    findings = run_checks(get_context(ctx).settings, SystemProbe())
    if as_json:
        print_json({"ok": not has_failures(findings), "checks": [f.to_dict() for f in findings]})
    else:
        _print(findings)
    if has_failures(findings):
        raise typer.Exit(1)


def _print(findings: list[Finding]) -> None:
    table = Table("", "check", "result", show_header=False, box=None, pad_edge=False)
    for finding in findings:
        status = f"[{_STYLE[finding.status]}]{finding.status.value}[/]"
        text = finding.summary
        if finding.fix:
            text += f"\n[dim]fix:[/] {finding.fix}"
        table.add_row(status, finding.name, text)
    Console(highlight=False).print(table)


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to the app."""
    app.command()(doctor)
