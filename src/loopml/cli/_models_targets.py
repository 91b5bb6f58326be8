"""Reading what ``loopml models …`` is pointed at: model names, versions, aliases, times.

A model may be named as ``NAME``, ``NAME/3``, ``NAME@production`` or as a full
``models:/`` URI; times for ``--at`` as an ISO date or date-time, ``now``, or an age
such as ``2h ago``.

Example:
    >>> model_target("churn@production")
    ModelTarget(name='churn', version=None, alias='production')
    >>> model_target("models:/churn/3").uri
    'models:/churn/3'
    >>> parse_pairs(["team=growth"], "--tag")
    {'team': 'growth'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from loopml.clock import now_ms as _now_ms
from loopml.errors import InvalidInputError
from loopml.uris import LoopmlURI, parse_short, strip_scheme

__all__ = ["ModelTarget", "model_target", "parse_pairs", "parse_when"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_AGO = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>s|m|h|d|w)\s+ago$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """A registered model, optionally one version of it (by number or by alias)."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def uri(self) -> str:
        """``models:/name/N``, ``models:/name@alias`` or ``models:/name`` (the model)."""
        return str(LoopmlURI("models", self.name, self.version, self.alias))


def model_target(text: str) -> ModelTarget:
    """Parse ``NAME``, ``NAME/VERSION``, ``NAME@ALIAS`` or the same as a ``models:/`` URI.

    Raises:
        InvalidInputError: the text is none of those forms.
    """
    bare = strip_scheme(text.strip(), "models").removesuffix("/")
    if _NAME.fullmatch(bare):
        return ModelTarget(bare)
    try:
        uri = parse_short(bare, "models")
    except InvalidInputError:
        uri = None
    if uri is None or uri.path:
        raise InvalidInputError(
            f"'{text}' names no model; use NAME, NAME/VERSION, NAME@ALIAS "
            "or models:/NAME/VERSION (e.g. churn/3 or churn@production)"
        )
    return ModelTarget(uri.name, uri.version, uri.alias)


def parse_when(text: str, *, now_ms: int | None = None) -> int:
    """A moment as Unix milliseconds, from an ISO date or date-time, ``now`` or ``N[smhdw] ago``.

    A bare date means the end of that day (local time): "what was in production on
    2026-11-17" includes moves made during that day. Times without a zone are local.

    Raises:
        InvalidInputError: the text is none of those forms.

    Example:
        >>> parse_when("1970-01-01T00:00:01+00:00")
        1000
    """
    now = _now_ms() if now_ms is None else now_ms
    cleaned = text.strip().lower()
    if cleaned == "now":
        return now
    ago = _AGO.fullmatch(cleaned)
    if ago is not None:
        delta = timedelta(**{_UNITS[ago["unit"]]: float(ago["n"])})
        return now - int(delta.total_seconds() * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"'{text}' is not a time; use an ISO date or time (2026-11-17, "
            "2026-11-17T14:30, 2026-11-17T14:30:00+00:00), 'now' or an age like '3d ago'"
        ) from None
    if len(text.strip()) == 10:  # a date: the end of that day
        moment = moment + timedelta(days=1) - timedelta(milliseconds=1)
    return int(moment.timestamp() * 1000)


def parse_pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` items as a dict.

    Raises:
        InvalidInputError: an item has no ``=`` or an empty key.
    """
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{option} takes KEY=VALUE, got '{item}'")
        pairs[key.strip()] = value
    return pairs
