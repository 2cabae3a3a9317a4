"""The ``i2v`` program: commands load lazily, so short commands never import the heavy parts."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from i2v.cli.app import COMMANDS, command_group
from i2v.jobs import JobSpec
from i2v.store import open_store_url

#: What `i2v jobs` and `i2v job ID` must not import: the GPU side, the bot and the API.
HEAVY = ("i2v.worker", "i2v.engine", "i2v.bot", "i2v.api", "torch", "aiogram", "fastapi")
#: What `i2v --help`, `i2v job ID --json` and `i2v jobs --json` start without as well: Rich
#: (only a table or a command's own pretty output needs it) with its Markdown and Pygments,
#: the message catalogue with Babel (only a sentence about a wait or a failure needs it),
#: and platformdirs (only when I2V_DATA_DIR is not set).
NOT_FOR_SHORT_COMMANDS = (
    "rich",
    "markdown_it",
    "pygments",
    "babel",
    "i2v.messages",
    "platformdirs",
)

#: What `i2v job ID` and `i2v jobs` on an existing SQLite store start without as well: the
#: database toolkit and settings library (they read through sqlite3; see i2v.cli.show).
NOT_FOR_READS_ON_SQLITE = ("sqlalchemy", "pydantic", "pydantic_settings", "psycopg")

_PROBE = """
import json, sys
from i2v.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stderr.write(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(
    tmp_path: Path, *argv: str, database_url: str | None = None
) -> tuple[int, set[str], str]:
    """Run ``i2v ARGV`` in a fresh interpreter; return its exit code, modules and output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    env.update({"I2V_DATA_DIR": str(tmp_path / "data"), "I2V_LOG_LEVEL": "WARNING"})
    if database_url is not None:
        env["I2V_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), done.stdout


def heavy_in(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy))


def test_i2v_jobs_and_i2v_job_import_neither_the_worker_nor_engines_nor_the_bot_nor_the_api(
    tmp_path: Path,
) -> None:
    code, modules, listing = modules_after(tmp_path, "jobs")
    assert (code, listing.strip()) == (0, "no jobs")
    assert heavy_in(modules) == []
    code, modules, _ = modules_after(tmp_path, "job", "nosuchjob")
    assert code == 2  # an unknown id is the user's mistake, said in one line
    assert heavy_in(modules) == []


def test_i2v_job_id_json_and_i2v_jobs_json_import_neither_rich_nor_the_catalogue_nor_sqlalchemy(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{(tmp_path / 'i2v.db').as_posix()}"
    store = open_store_url(url)
    job_id = store.submit(JobSpec(prompt="a cup of coffee"), b"photo").id
    store.close()
    code, modules, shown = modules_after(tmp_path, "job", job_id, "--json", database_url=url)
    assert (code, json.loads(shown)["id"]) == (0, job_id)
    assert heavy_in(modules, NOT_FOR_SHORT_COMMANDS + NOT_FOR_READS_ON_SQLITE) == []
    code, modules, listed = modules_after(tmp_path, "jobs", "--json", database_url=url)
    assert (code, [job["id"] for job in json.loads(listed)]) == (0, [job_id])
    assert heavy_in(modules, NOT_FOR_SHORT_COMMANDS + NOT_FOR_READS_ON_SQLITE) == []
    code, modules, listed = modules_after(tmp_path, "jobs", "--status", "failed", database_url=url)
    assert (code, listed.strip()) == (0, "no jobs")
    assert heavy_in(modules, NOT_FOR_SHORT_COMMANDS + NOT_FOR_READS_ON_SQLITE) == []
    # A table needs Rich, and still neither SQLAlchemy nor pydantic.
    code, modules, listed = modules_after(tmp_path, "jobs", database_url=url)
    assert code == 0 and job_id in listed
    assert heavy_in(modules, HEAVY + NOT_FOR_READS_ON_SQLITE) == []


def test_i2v_help_lists_every_command_with_its_help_and_imports_no_command_module(
    tmp_path: Path,
) -> None:
    code, modules, page = modules_after(tmp_path, "--help")
    assert code == 0
    for name in COMMANDS:
        assert f" {name} " in page, name
    assert "List recent jobs, newest first." in page
    assert not any(
        m.startswith("i2v.cli.") and m not in {"i2v.cli.app", "i2v.cli.coercion", "i2v.cli.context"}
        for m in modules
    ), sorted(m for m in modules if m.startswith("i2v."))
    assert not any(m in modules for m in ("sqlalchemy", "pydantic", *HEAVY))
    assert heavy_in(modules, NOT_FOR_SHORT_COMMANDS) == []


def test_i2v_help_lists_each_commands_whole_help_line_wrapped_not_cut(tmp_path: Path) -> None:
    _, _, page = modules_after(tmp_path, "--help")
    listed = " ".join(page.split())
    for name, (_, help_line) in COMMANDS.items():
        assert f" {name} {help_line}" in listed, name


def test_the_help_lines_listed_without_importing_match_each_commands_own_help() -> None:
    group = command_group()
    assert set(group.commands) == set(COMMANDS)
    for name, command in group.commands.items():
        first_line = inspect.cleandoc(command.help or "").splitlines()[0]
        assert COMMANDS[name][1] == first_line, name


@pytest.mark.parametrize("name", ["worker", "db"])
def test_a_command_loaded_on_demand_still_shows_its_own_help(tmp_path: Path, name: str) -> None:
    code, _, page = modules_after(tmp_path, name, "--help")
    assert code == 0
    assert COMMANDS[name][1].split(":")[0].split(" (")[0] in " ".join(page.split())


def test_a_mistyped_command_is_answered_with_the_closest_name(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("I2V_")}
    env["I2V_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "i2v", "jbos"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "No such command 'jbos'. Did you mean 'jobs'?" in done.stderr
