"""The root command: version, help, global options, and how errors are reported."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from loopml import __version__
from loopml.cli import app
from loopml.cli._output import JsonFlag, format_size
from loopml.cli.app import LoopmlGroup
from loopml.errors import ConflictError, InvalidInputError, NotFoundError


def _console_script() -> Path:
    return Path(sys.executable).with_name("loopml")


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"loopml {__version__}\n"


@pytest.mark.skipif(not _console_script().exists(), reason="loopml is not installed as a script")
def test_installed_console_script_runs() -> None:
    done = subprocess.run(
        [str(_console_script()), "--version"], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (0, f"loopml {__version__}\n")


def test_python_dash_m_loopml_help_names_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage: loopml" in done.stdout
    for command in ("init", "gc", "experiments", "runs", "artifacts", "db"):
        assert command in done.stdout


def test_help_of_every_command_has_an_example() -> None:
    runner = CliRunner()
    commands = [
        ["init"], ["gc"], ["experiments", "list"], ["runs", "list"], ["runs", "show"],
        ["runs", "compare"], ["runs", "delete"], ["artifacts", "list"], ["artifacts", "get"],
        ["db", "upgrade"], ["db", "current"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, command
        assert "Example" in result.stdout, command
        assert "loopml " + command[0] in result.stdout, command


def _every_command(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """The command at ``path`` and, for a group, every command below it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _every_command(sub, [*path, name])


def test_every_example_in_help_is_shown_on_its_own_line() -> None:
    # Typer renders help as Markdown after inspect.cleandoc: examples that lose their
    # indentation there are joined into one run-on paragraph.
    runner = CliRunner()
    offenders = []
    for path, command in _every_command(typer.main.get_command(app), []):
        examples = [
            line.strip()
            for line in (command.help or "").splitlines()
            if line.strip().startswith("loopml ")
        ]
        if not examples:
            continue
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, (path, result.output)
        shown = {line.strip() for line in result.stdout.splitlines()}
        offenders += [f"{' '.join(path)}: {e}" for e in examples if e not in shown]
    assert not offenders, "examples not on their own line in --help:\n" + "\n".join(offenders)


def test_placeholders_in_help_survive_the_markdown_rendering() -> None:
    # Markdown takes <name> for an HTML tag and drops it unless it sits in `code`.
    runner = CliRunner()
    offenders = []
    for path, command in _every_command(typer.main.get_command(app), []):
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        placeholders = {t for text in texts for t in re.findall(r"<[A-Za-z_][^<>\s]*>", text)}
        if not placeholders:
            continue
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
        offenders += [f"{' '.join(path)}: {p}" for p in placeholders if p not in result.stdout]
    assert not offenders, "placeholders dropped from --help:\n" + "\n".join(sorted(offenders))


def test_importing_the_cli_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, loopml.cli; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'sqlalchemy', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["nonsense"])
    assert result.exit_code == 2


def test_global_options_reach_the_settings(tmp_path: Path) -> None:
    db = tmp_path / "meta.db"
    result = CliRunner().invoke(
        app,
        ["--home", str(tmp_path / "h"), "--db-url", f"sqlite:///{db}",
         "--artifacts", str(tmp_path / "blobs"), "experiments", "list", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert db.is_file()
    assert not (tmp_path / "h" / "loopml.db").exists()


def test_a_broken_loopml_toml_is_reported_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loopml.toml").write_text("this is = not toml = at all")
    result = CliRunner().invoke(app, ["experiments", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: loopml.toml is not valid TOML")
    assert len(result.stderr.strip().splitlines()) == 1


# -- the error machinery, on a small app of the same kind ------------------------------


def _failing_app() -> typer.Typer:
    """An app with LoopmlGroup whose commands raise what they are told to."""
    demo = typer.Typer(cls=LoopmlGroup, pretty_exceptions_enable=False)

    @demo.command()
    def fail(kind: str, as_json: JsonFlag = False) -> None:
        errors: dict[str, Exception] = {
            "not-found": NotFoundError("model", "churn", choices=["churn-v2"]),
            "conflict": ConflictError("run 01 already exists", details={"run_id": "01"}),
            "invalid": InvalidInputError("depth must be positive"),
        }
        if kind == "bug":  # a non-loopml exception raised in loopml's own code
            format_size("12")  # type: ignore[arg-type]
        raise errors[kind]

    @demo.command()
    def ok() -> None:
        typer.echo("fine")

    return demo


@pytest.mark.parametrize(
    ("kind", "code", "line"),
    [
        ("not-found", 1, "error: model 'churn' not found; did you mean: churn-v2?"),
        ("conflict", 1, "error: run 01 already exists"),
        ("invalid", 2, "error: depth must be positive"),
    ],
)
def test_loopml_errors_become_one_line_and_their_exit_code(kind: str, code: int, line: str) -> None:
    result = CliRunner().invoke(_failing_app(), ["fail", kind])
    assert result.exit_code == code
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_loopml_errors_with_json_print_the_error_body() -> None:
    result = CliRunner().invoke(_failing_app(), ["fail", "conflict", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": {
            "code": "conflict",
            "message": "run 01 already exists",
            "details": {"run_id": "01"},
        }
    }
    assert result.stderr == "error: run 01 already exists\n"


def test_unexpected_errors_ask_for_a_report_without_traceback() -> None:
    result = CliRunner().invoke(_failing_app(), ["fail", "bug"], env={"LOOPML_DEBUG": None})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected TypeError: ")
    assert "please report" in result.stderr
    assert "LOOPML_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_errors_show_the_traceback_with_loopml_debug() -> None:
    result = CliRunner().invoke(
        _failing_app(), ["fail", "bug", "--json"], env={"LOOPML_DEBUG": "1"}
    )
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert 'format_size("12")' in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "internal"


def test_successful_commands_are_untouched() -> None:
    result = CliRunner().invoke(_failing_app(), ["ok"])
    assert (result.exit_code, result.stdout) == (0, "fine\n")


def test_an_exception_raised_in_the_users_own_code_names_its_line_not_a_bug() -> None:
    def users_code() -> None:
        raise RuntimeError("boom")  # this file is not loopml's: the user's own code

    demo = typer.Typer(cls=LoopmlGroup, pretty_exceptions_enable=False)
    demo.command()(users_code)
    demo.command()(lambda: None)  # two commands: a group, as loopml's root is
    result = CliRunner().invoke(demo, ["users-code"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "test_app.py:" in result.stderr
    assert "(in users_code): RuntimeError: boom" in result.stderr
    assert "bug" not in result.stderr
