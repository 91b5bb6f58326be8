"""Reading what the user points at: a run id, or a ``runs:/<run_id>/<path>`` URI.

Example:
    >>> run_target("runs:/01J0ABC/model/model.json")
    ('01J0ABC', 'model/model.json')
    >>> run_target("01J0ABC", "plots")
    ('01J0ABC', 'plots')
"""

from __future__ import annotations

from loopml.errors import InvalidInputError
from loopml.uris import parse_short, parse_uri

__all__ = ["run_target", "unique"]


def run_target(text: str, path: str | None = None) -> tuple[str, str]:
    """Split a run id or ``runs:/`` URI (plus an optional extra ``path``) into id and path.

    Args:
        text: ``<run_id>``, ``<run_id>/<path>`` or ``runs:/<run_id>[/<path>]``.
        path: a path inside the run, appended to the one in ``text``.

    Raises:
        InvalidInputError: ``text`` is not a run id or a ``runs:/`` URI.
    """
    uri = parse_uri(text) if ":" in text else parse_short(text, "runs")  # a run id has no ':'
    if uri.scheme != "runs":
        raise InvalidInputError(
            f"'{text}' is a {uri.scheme}:/ URI; this command takes a run id or "
            "runs:/<run_id>/<path>"
        )
    extra = (path or "").strip("/")
    return uri.name, "/".join(p for p in (uri.path, extra) if p)


def unique(items: list[str]) -> list[str]:
    """``items`` without repeats, in their first order."""
    return list(dict.fromkeys(items))
