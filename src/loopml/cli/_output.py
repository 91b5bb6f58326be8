"""How the CLI prints: Rich tables for people, JSON for scripts, one line per error.

Everything meant for a pipe goes to stdout (tables, JSON, paths); everything about
a failure goes to stderr, as a single ``error: <message>`` line. Non-finite floats
become ``null`` in JSON so that strict parsers (``jq``, browsers) accept it.

Example:
    >>> format_size(1536)
    '1.5 KiB'
    >>> format_duration(75.0)
    '1m 15s'
    >>> to_jsonable({"acc": float("nan"), "n": 3})
    {'acc': None, 'n': 3}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from loopml.errors import LoopmlError

__all__ = [
    "DEBUG_ENV",
    "JSON_META_KEY",
    "JsonFlag",
    "cell",
    "confirm",
    "echo_json",
    "format_duration",
    "format_size",
    "format_time",
    "format_value",
    "new_table",
    "print_error",
    "print_unexpected",
    "respond",
    "show",
    "silence_stdout",
    "terminal_width",
    "to_jsonable",
]

JSON_META_KEY = "loopml.json"
DEBUG_ENV = "LOOPML_DEBUG"


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    # Parsed before the command body runs, so an error raised there knows the format.
    ctx.meta[JSON_META_KEY] = value
    return value


JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json",
        help='Print JSON instead of a table (errors too, as {"error": {...}}).',
        callback=_remember_json,
    ),
]


def show(*renderables: RenderableType, natural_width: bool = False) -> None:
    """Print to stdout, one renderable after another; strings are shown literally.

    On a terminal, wide tables are fitted to its width unless ``natural_width``.
    Anywhere else (a pipe, a file) they keep their natural width: nothing is cut
    off for a reader that has no screen.
    """
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    items = [Text(r) if isinstance(r, str) else r for r in renderables]
    if (natural_width or not console.is_terminal) and items:
        unbounded = console.options.update_width(100_000)
        needed = (console.measure(item, options=unbounded).maximum for item in items)
        console.width = max(console.width, *needed)
    for item in items:
        console.print(item)


def terminal_width() -> int | None:
    """The width of the terminal stdout is, or ``None`` when stdout is not a terminal."""
    from rich.console import Console

    console = Console()
    return console.width if console.is_terminal else None


def new_table(*columns: str, title: str | None = None) -> Table:
    """A table in the CLI's one style; add rows with ``table.add_row``."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
        caption_justify="left",
    )
    for column in columns:
        table.add_column(column)
    return table


def cell(value: object, style: str = "") -> Text:
    """A table cell showing ``value`` literally (never parsed as Rich markup)."""
    from rich.text import Text

    return Text(str(value), style=style)


def to_jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and paths as strings, ready for JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, allow_nan=False))


def respond(data: Any, *text: RenderableType, as_json: bool) -> None:
    """A command's answer: ``data`` as JSON with ``--json``, else ``text`` for people."""
    if as_json:
        echo_json(data)
    else:
        show(*text)


def confirm(question: str | Callable[[], str], *, yes: bool, action: str) -> None:
    """Ask before a destructive ``action``; without a terminal, refuse unless ``--yes``.

    Raises:
        InvalidInputError: stdin is not a terminal and ``yes`` is false (exit 2).
        typer.Abort: the person answered no.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        from loopml.errors import InvalidInputError

        raise InvalidInputError(
            f"{action} needs a confirmation and there is no terminal to ask on (stdin is "
            "not a TTY); pass --yes to go ahead"
        )
    typer.confirm(question if isinstance(question, str) else question(), abort=True, err=True)


def print_error(err: LoopmlError, *, as_json: bool) -> None:
    """Report a loopml error: one line on stderr, plus its JSON body on stdout with ``--json``."""
    if as_json:
        echo_json(err.to_dict())
    typer.echo(f"{typer.style('error:', fg='red', bold=True)} {err.message}", err=True)


def print_unexpected(err: BaseException, *, as_json: bool) -> None:
    """Report a bug: a short message, and the traceback only when ``LOOPML_DEBUG=1``."""
    summary = f"{type(err).__name__}: {err}"
    if as_json:
        echo_json({"error": {"code": "internal", "message": summary, "details": {}}})
    if os.environ.get(DEBUG_ENV) == "1":
        typer.echo("".join(traceback.format_exception(err)).rstrip(), err=True)
        hint = "with the traceback above"
    else:
        hint = f"with the traceback that {DEBUG_ENV}=1 shows"
    typer.echo(
        f"{typer.style('error:', fg='red', bold=True)} unexpected {summary}\n"
        f"This is a bug in loopml {_version()}; please report it, {hint}.",
        err=True,
    )


def _version() -> str:
    from loopml import __version__

    return __version__


def silence_stdout() -> None:
    """Point stdout at the null device after its reader left (``loopml … | head``).

    Python would otherwise fail again flushing stdout at exit and print a warning.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no real file: nothing to do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def format_time(moment: int | datetime | None) -> str:
    """A time as local ``YYYY-MM-DD HH:MM:SS ZONE``; ``-`` for none.

    The one way every command shows a time, so two commands showing the same instant
    print the same text. ``moment`` is Unix milliseconds or a datetime (a naive one is
    taken as UTC, which is how loopml stores times).
    """
    if moment is None:
        return "-"
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    else:
        aware = datetime.fromtimestamp(moment / 1000, tz=UTC)
    return aware.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``850ms``, ``12.3s``, ``4m 05s``, ``2h 03m``, ``3d 04h``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_size(size: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``3.0 GiB``."""
    if size is None:
        return "-"
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_value(value: float | str | None) -> str:
    """A metric or param for a table cell: floats to 6 significant digits, ``-`` for missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
