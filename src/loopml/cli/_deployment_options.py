"""Turning ``loopml deployments create|update`` options into policy, payload-log, resources.

A route is ``TARGET[=WEIGHT]``: ``@production=90`` follows an alias with 90 % of the
traffic, ``v3=10`` (or ``3=10``) pins a version. ``--alias A`` and ``--version N`` are the
one-route shorthands. On update, what is not given stays as stored.

Example:
    >>> parse_route("@production=90")
    Route(alias='production', version=None, weight=90)
    >>> parse_route("v3").version
    3
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from loopml.errors import InvalidInputError
from loopml.serving.policy import PayloadLogSettings, Resources, Route, TrafficPolicy

__all__ = ["merge_payload_log", "merge_resources", "parse_route", "policy_from_options"]

_ROUTE = re.compile(
    r"(?:@(?P<alias>[A-Za-z][A-Za-z0-9_-]{0,99})|v?(?P<version>\d{1,9}))(?:=(?P<weight>\d{1,3}))?"
)
_EXAMPLE = "give @ALIAS or vN, with =WEIGHT when there are several: --route @production=90"


def parse_route(text: str, *, weight: int | None = None) -> Route:
    """One ``--route`` (or ``--shadow``) value as a :class:`Route`.

    Raises:
        InvalidInputError: not ``@alias[=weight]`` or ``vN[=weight]``.
    """
    match = _ROUTE.fullmatch(text.strip())
    if match is None:
        raise InvalidInputError(f"route {text!r} is not a target; {_EXAMPLE}")
    share = int(match["weight"]) if match["weight"] is not None else weight
    if match["alias"] is not None:
        return Route(alias=match["alias"], weight=100 if share is None else share)
    return Route(version=int(match["version"]), weight=100 if share is None else share)


def policy_from_options(
    *,
    alias: str | None,
    version: int | None,
    routes: Sequence[str],
    shadow: str | None,
    no_shadow: bool,
    current: TrafficPolicy | None,
) -> TrafficPolicy | None:
    """The policy the options ask for, or ``None`` when they leave it as it is (update).

    Raises:
        InvalidInputError: no route on create, more than one way of naming routes, or
            several routes without weights.
    """
    given = [name for name, value in (("--alias", alias), ("--version", version)) if value]
    if routes:
        given.append("--route")
    if len(given) > 1:
        raise InvalidInputError(f"give the routes one way, not {' and '.join(given)}")
    if shadow is not None and no_shadow:
        raise InvalidInputError("give --shadow or --no-shadow, not both")
    new_routes: tuple[Route, ...] | None = None
    if alias is not None:
        new_routes = (parse_route(f"@{alias}"),)
    elif version is not None:
        new_routes = (Route(version=version),)
    elif routes:
        new_routes = _routes(routes)
    if current is None and new_routes is None:
        raise InvalidInputError(
            "a deployment needs a route: --alias production, --version 3, or "
            "--route @production=90 --route @challenger=10"
        )
    if new_routes is None:
        if current is None or (shadow is None and not no_shadow):
            return None
        new_routes = current.routes
    kept_shadow = None if current is None else current.shadow
    return TrafficPolicy(
        routes=new_routes,
        shadow=None if no_shadow else (parse_route(shadow) if shadow else kept_shadow),
    )


def _routes(texts: Sequence[str]) -> tuple[Route, ...]:
    parsed = [parse_route(text) for text in texts]
    if len(parsed) > 1 and any("=" not in text for text in texts):
        raise InvalidInputError(f"with several routes, give each a weight; {_EXAMPLE}")
    return tuple(parsed)


def merge_payload_log(
    current: PayloadLogSettings | None,
    *,
    enabled: bool | None,
    sample_rate: float | None,
    log_inputs: bool | None,
) -> PayloadLogSettings | None:
    """``current`` with what was given changed (``None``: nothing was given on update)."""
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("enabled", enabled),
            ("sample_rate", sample_rate),
            ("log_inputs", log_inputs),
        )
        if value is not None
    }
    if not changes and current is not None:
        return None
    return dataclasses.replace(current or PayloadLogSettings(), **changes)


def merge_resources(
    current: Resources | None,
    *,
    workers: int | None,
    device: str | None,
    max_batch_size: int | None,
    max_batch_time_ms: float | None,
    runtime: str | None = None,
) -> Resources | None:
    """``current`` with what was given changed (``None``: nothing was given on update)."""
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("workers", workers),
            ("device", device),
            ("max_batch_size", max_batch_size),
            ("max_batch_time_ms", max_batch_time_ms),
            ("runtime", runtime),
        )
        if value is not None
    }
    if not changes and current is not None:
        return None
    return dataclasses.replace(current or Resources(), **changes)
