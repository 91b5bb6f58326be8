"""Whose mistake is an exception: the user's code, or loopml's?

An exception whose innermost frame outside the standard library and installed packages
is in loopml's own source is a bug in loopml. One whose innermost such frame is in a file
of the user's (a pipeline, a step, a definitions file) is the user's mistake: it is shown
with that file and line, not as a bug. A ``SyntaxError`` names its file itself.

Example:
    >>> try:
    ...     exec(compile("undefined_name", "/project/flow.py", "exec"))
    ... except NameError as err:
    ...     located = user_code_error(err)
    >>> located.file, located.line
    ('/project/flow.py', 1)
"""

from __future__ import annotations

import linecache
import site
import sysconfig
import traceback
from functools import cache
from pathlib import Path

from loopml.errors import UserCodeError

__all__ = ["user_code_error", "user_frame"]

_LOOPML = Path(__file__).resolve().parent
_LIBRARY_PARTS = {"site-packages", "dist-packages"}


@cache
def _library_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(getattr(site, "getsitepackages", list)())
    return tuple(Path(root).resolve() for root in roots)


def _kind(filename: str) -> str:
    """``"loopml"``, ``"library"`` (stdlib, installed packages, frozen) or ``"user"``."""
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return "library"
    path = Path(filename).resolve()
    if path.is_relative_to(_LOOPML):
        return "loopml"
    if _LIBRARY_PARTS & set(path.parts) or any(path.is_relative_to(r) for r in _library_roots()):
        return "library"
    return "user"


def user_frame(err: BaseException) -> traceback.FrameSummary | None:
    """The frame in the user's code that ``err`` came from, or None if it is loopml's."""
    if isinstance(err, SyntaxError) and err.filename and _kind(err.filename) == "user":
        return traceback.FrameSummary(
            err.filename, err.lineno or 0, "<module>", line=(err.text or "").strip()
        )
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        kind = _kind(frame.filename)
        if kind == "user":
            return frame
        if kind == "loopml":
            return None
    return None


def user_code_error(err: BaseException) -> UserCodeError | None:
    """A :class:`UserCodeError` locating ``err`` in the user's file, or None (a bug)."""
    frame = user_frame(err)
    if frame is None:
        return None
    line = frame.lineno or 0
    if isinstance(err, SyntaxError):
        summary = f"{type(err).__name__}: {err.msg}"
    else:
        summary = f"{type(err).__name__}: {err}"
    where = f"{_shown_path(frame.filename)}:{line}"
    if frame.name != "<module>":
        where += f" (in {frame.name})"
    code = frame.line or linecache.getline(frame.filename, line).strip()
    message = f"{where}: {summary}" + (f"\n    {code}" if code else "")
    return UserCodeError(message, file=frame.filename, line=line, error=summary)


def _shown_path(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:  # outside the current directory: the full path
        return filename
