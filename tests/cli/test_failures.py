"""Errors in the user's own code and a full disk are not reported as loopml's bugs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loopml.cli._failures import blame
from loopml.cli._output import format_size

FLOW = """\
import loopml


@loopml.step
def add(n: int) -> int:
    return n + undefined_in_step


@loopml.pipeline
def runs_badly(n: int = 1) -> None:
    add(n)


@loopml.pipeline
def traces_badly(n: int = 1) -> None:
    add(undefined_in_trace)
"""


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    file = tmp_path / "flow.py"
    file.write_text(FLOW)
    return file


def _assert_users_mistake(output: str, where: str, error: str) -> None:
    assert where in output, output
    assert error in output, output
    assert "bug" not in output, output
    assert "unexpected" not in output, output


def test_a_name_error_while_tracing_the_pipeline_names_the_users_line(cli, flow: Path) -> None:
    result = cli.run("pipeline", "run", f"{flow}:traces_badly")
    assert result.exit_code == 1
    _assert_users_mistake(
        result.stderr, "flow.py:16 (in traces_badly)", "NameError: name 'undefined_in_trace'"
    )
    assert "add(undefined_in_trace)" in result.stderr  # the line itself is quoted


def test_a_name_error_in_a_step_names_the_users_line(cli, flow: Path) -> None:
    result = cli.run("pipeline", "run", f"{flow}:runs_badly")
    assert result.exit_code == 1
    _assert_users_mistake(
        result.stdout + result.stderr,
        f"{flow}:6, in add",
        "NameError: name 'undefined_in_step' is not defined",
    )


def test_a_syntax_error_in_a_definitions_file_names_its_line(cli, tmp_path: Path) -> None:
    defs = tmp_path / "defs.py"
    defs.write_text("from loopml.features import Entity\n\ndriver = = Entity('driver')\n")
    result = cli.run("features", "apply", str(defs))
    assert result.exit_code == 1
    _assert_users_mistake(result.stderr, "defs.py:3", "SyntaxError: invalid syntax")


def test_an_exception_from_loopmls_own_code_is_still_a_bug() -> None:
    with pytest.raises(TypeError) as caught:
        format_size("12")  # type: ignore[arg-type]
    assert blame(caught.value, []) is None


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_mount_tmpfs(), reason="a small full file system needs root and unshare --mount"
)
def test_a_full_disk_says_how_much_is_free_where(tmp_path: Path) -> None:
    # A 1 MiB tmpfs mounted in a private mount namespace (gone when the command ends).
    disk = tmp_path / "disk"
    disk.mkdir()
    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(3 * 1024 * 1024))
    script = textwrap.dedent(
        f"""\
        mount -t tmpfs -o size=1m tmpfs {disk} &&
        exec {sys.executable} -m loopml --home {disk}/home data log big {data} --format files
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "error: disk full: " in done.stderr, done.stderr
    assert f"bytes free on {disk}" in done.stderr
    assert "bug" not in done.stderr
