"""Commands about the installation: workers, config, db upgrade."""

from __future__ import annotations

import typer

from i2v.cli.context import JsonOption, get_context, print_json
from i2v.cli.render import worker_table
from i2v.config.reference import effective_settings
from i2v.store import migrations
from i2v.store.database import create_db_engine, translated_errors


def workers(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List workers, what they run and when they last reported."""
    store = get_context(ctx).store
    found = store.list_workers()
    alive = [store.is_worker_alive(w) for w in found]
    if as_json:
        print_json([{**w.to_dict(), "alive": a} for w, a in zip(found, alive, strict=True)])
        return
    if not found:
        typer.echo("no workers have registered; start one with: i2v worker")
        return
    worker_table(found, alive)


def config(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Print the effective settings (secrets masked)."""
    rows = effective_settings(get_context(ctx).settings)
    if as_json:
        print_json({name: value for name, value, _ in rows})
        return
    width = max(len(name) for name, _, _ in rows)
    for name, value, _ in rows:
        typer.echo(f"{name:<{width}}  {'' if value is None else value}")


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or upgrade the job database schema (keeps every job)."""
    settings = get_context(ctx).settings
    url = settings.database_url_resolved
    engine = create_db_engine(url)
    try:
        with translated_errors(url):
            before, after = migrations.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database is up to date (schema version {after})")
    else:
        typer.echo(f"database upgraded from schema version {before} to {after}")


def register(app: typer.Typer) -> None:
    """Add the admin commands to the app."""
    app.command()(workers)
    app.command()(config)
    app.add_typer(db_app, name="db")
