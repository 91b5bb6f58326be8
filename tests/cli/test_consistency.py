"""The same thing looks and behaves the same in every command (issue 10, item 16)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.progress import Progress

from loopml.cli._output import format_size, format_time
from loopml.cli.data import progress_columns

DIAMOND = "_cli_pipelines:diamond"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z][A-Za-z0-9+-]+"


# -- (a) a missing input file: exit 2 in every command ----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["data", "log", "t", "{missing}.csv"],
        ["data", "validate", "{missing}.csv", "--schema", "{tmp}/schema.json", "--infer"],
        ["data", "validate", "{data}", "--schema", "{missing}.json"],
        ["features", "apply", "{missing}.py"],
        ["pipeline", "run", DIAMOND, "--config", "{missing}.toml"],
        ["pipeline", "run", "{missing}.py:train"],
        ["pipeline", "show", "{missing}.py:train"],
        ["pipeline", "register", "{missing}.py:train", "--schedule", "@daily"],
        ["models", "register", "{missing}", "churn"],
    ],
    ids=lambda args: " ".join(a for a in args[:2]),
)
def test_a_missing_input_file_exits_2_everywhere(cli, tmp_path: Path, args: list[str]) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    missing = tmp_path / "no-such-file"
    filled = [a.format(missing=missing, tmp=tmp_path, data=data) for a in args]
    result = cli.run(*filled)
    assert result.exit_code == 2, (filled, result.stdout, result.stderr)
    assert "no-such-file" in result.stderr
    assert result.stderr.startswith("error: ")


# -- (c) times: one format, with the zone, in every command -----------------------------


def test_format_time_shows_the_zone_and_agrees_for_ms_and_datetimes() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    as_ms = int(moment.timestamp() * 1000)
    assert format_time(as_ms) == format_time(moment) == format_time(moment.replace(tzinfo=None))
    assert re.fullmatch(TIME, format_time(as_ms))


def test_pipeline_list_and_schedules_show_the_same_next_run(cli) -> None:
    cli.json("pipeline", "register", DIAMOND, "--schedule", "0 3 * * *", "--timezone", "Asia/Tokyo")
    listing = cli.run("pipeline", "list", env={"COLUMNS": "250"})
    schedules = cli.run("pipeline", "schedules", env={"COLUMNS": "250"})
    assert listing.exit_code == 0, listing.stderr
    assert schedules.exit_code == 0, schedules.stderr
    in_list = re.findall(TIME, listing.stdout)
    in_schedules = re.findall(TIME, schedules.stdout)
    assert in_list, listing.stdout
    assert in_list == in_schedules, (listing.stdout, schedules.stdout)


# -- (d) the progress bar counts in the units of the result lines -----------------------


def test_the_byte_progress_bar_uses_the_result_lines_units() -> None:
    progress = Progress(*progress_columns("storing"), disable=True)
    task_id = progress.add_task("storing", total=15 * 1024 * 1024)
    progress.update(task_id, completed=1536 * 1024)
    task = progress.tasks[0]
    shown = " ".join(str(column.render(task)) for column in progress.columns[2:3])
    assert shown == f"{format_size(1536 * 1024)}/{format_size(15 * 1024 * 1024)}"
    assert "MB" not in shown


# -- (e) logging unchanged data says so -------------------------------------------------


@pytest.mark.parametrize("form", ["csv", "parquet", "files"])
def test_relogging_unchanged_data_says_unchanged(cli, tmp_path: Path, form: str) -> None:
    source = tmp_path / "t.csv"
    source.write_text("a,b\n1,2\n3,4\n")
    first = cli.run("data", "log", "t", str(source), "--format", form)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("logged datasets:/t/1")
    again = cli.run("data", "log", "t", str(source), "--format", form)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith("unchanged: the content is already datasets:/t/1")
    assert cli.json("data", "log", "t", str(source), "--format", form)["created"] is False


# -- (f) shell completion ---------------------------------------------------------------


def test_show_completion_prints_the_bash_completion_function(cli) -> None:
    result = cli.run("--show-completion", "bash")
    assert result.exit_code == 0, result.stderr
    assert "_loopml_completion()" in result.stdout
    assert "_LOOPML_COMPLETE=complete_bash" in result.stdout


def test_completion_completes_commands_in_a_real_process() -> None:
    env = {
        **os.environ,
        "_LOOPML_COMPLETE": "complete_bash",
        "COMP_WORDS": "loopml pipeline re",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "loopml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) >= {"resume", "register"}
