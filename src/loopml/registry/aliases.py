"""Aliases: named pointers (``production``, ``canary``) at versions, with their whole history.

Every move, removal included, appends an ``alias_history`` row that names the version the
alias pointed at before, so the history of one alias is a chain (each row's
``previous_version`` is the row before's ``version``) and "what was in production at
time T" is one query (:func:`alias_at`). Moves run while the caller holds the model's
row lock, so two moves at once are serialized and both land in the chain.

Example:
    >>> check_alias("production")
    'production'
    >>> check_alias("3")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidInputError: alias '3' is not valid; ...
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final, Literal

from sqlalchemy import Connection, bindparam, delete, select, update

from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.registry._records import to_alias_change
from loopml.registry.models import AliasChange
from loopml.store.schema import alias_history, model_aliases

__all__ = ["ANY", "AnyVersion", "alias_at", "check_alias", "check_expected", "history", "move"]

_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_MAX_ALIAS = 100
_A = model_aliases.c
_H = alias_history.c


class AnyVersion(Enum):
    """The type of :data:`ANY`: "move the alias whatever it points at now"."""

    ANY = "any"


ANY: Final = AnyVersion.ANY

_CURRENT = select(_A.version).where(_A.model == bindparam("m"), _A.alias == bindparam("a"))
_INSERT = model_aliases.insert()
_UPDATE = (
    update(model_aliases)
    .where(_A.model == bindparam("m"), _A.alias == bindparam("a"))
    .values(version=bindparam("v"), updated_at=bindparam("at"), updated_by=bindparam("by"))
)
_DELETE = delete(model_aliases).where(_A.model == bindparam("m"), _A.alias == bindparam("a"))
_HISTORY = alias_history.insert()


def check_alias(alias: object) -> str:
    """``alias`` if it can be an alias name, else an error showing the rule."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > _MAX_ALIAS:
        raise InvalidInputError(
            f"alias {alias!r} is not valid; an alias starts with a letter and holds letters, "
            f"digits, '_' and '-' (at most {_MAX_ALIAS} characters), e.g. 'production' or "
            "'canary-eu' (a number would read as a version in models:/name/3)"
        )
    return alias


def current(conn: Connection, model: str, alias: str) -> int | None:
    """The version ``model@alias`` points at now, or ``None``."""
    value = conn.execute(_CURRENT, {"m": model, "a": alias}).scalar_one_or_none()
    return None if value is None else int(value)


def check_expected(
    model: str, alias: str, now: int | None, expected: int | Literal[AnyVersion.ANY] | None
) -> None:
    """Compare-and-set: raise ConflictError unless the alias points where the caller expects."""
    if expected is ANY or expected == now:
        return
    if now is None:
        message = f"alias {model}@{alias} does not exist, not pointing at {expected}"
    elif expected is None:
        message = f"alias {model}@{alias} already points at {now}; expected it not to exist"
    else:
        message = f"alias {model}@{alias} points at {now}, not {expected}"
    raise ConflictError(
        f"{message}; someone moved it meanwhile: read it again and retry",
        details={"model": model, "alias": alias, "current": now, "expected": expected},
    )


def move(
    conn: Connection,
    model: str,
    alias: str,
    version: int | None,
    *,
    previous: int | None,
    actor: str,
    reason: str | None,
    at: int,
) -> AliasChange:
    """Point ``model@alias`` at ``version`` (``None``: remove it) and append the history row.

    ``previous`` is what the alias points at now (read by the caller under the model's
    lock, see :func:`current`).
    """
    params = {"m": model, "a": alias, "v": version, "at": at, "by": actor}
    if version is None:
        conn.execute(_DELETE, params)
    elif previous is None:
        conn.execute(
            _INSERT,
            {"model": model, "alias": alias, "version": version, "updated_at": at,
             "updated_by": actor},
        )  # fmt: skip
    else:
        conn.execute(_UPDATE, params)
    row = {
        "model": model,
        "alias": alias,
        "version": version,
        "previous_version": previous,
        "at": at,
        "actor": actor,
        "reason": reason,
    }
    change_id = conn.execute(_HISTORY, row).inserted_primary_key
    assert change_id is not None
    return to_alias_change({"id": change_id[0], **row})


def history(conn: Connection, model: str, alias: str | None = None) -> list[AliasChange]:
    """Every move of ``model``'s aliases (or of one alias), oldest first.

    Raises:
        NotFoundError: ``alias`` never existed (the message lists the model's aliases).
    """
    query = select(alias_history).where(_H.model == model)
    if alias is not None:
        query = query.where(_H.alias == alias)
    changes = [to_alias_change(row) for row in conn.execute(query.order_by(_H.id)).mappings()]
    if alias is not None and not changes:
        raise _never_existed(conn, model, alias)
    return changes


def alias_at(conn: Connection, model: str, alias: str, at_ms: int) -> int | None:
    """The version ``model@alias`` pointed at at ``at_ms`` (Unix ms), or ``None``.

    Raises:
        NotFoundError: the alias never existed (the message lists the model's aliases).
    """
    row = conn.execute(
        select(_H.version)
        .where(_H.model == model, _H.alias == alias, _H.at <= at_ms)
        .order_by(_H.id.desc())  # the last move recorded by then
        .limit(1)
    ).first()
    if row is not None:
        return None if row.version is None else int(row.version)
    if conn.execute(select(_H.id).where(_H.model == model, _H.alias == alias).limit(1)).first():
        return None  # it came later
    raise _never_existed(conn, model, alias)


def _never_existed(conn: Connection, model: str, alias: str) -> NotFoundError:
    ever = conn.execute(select(_H.alias).where(_H.model == model).distinct()).scalars().all()
    return NotFoundError(
        "alias",
        f"{model}@{alias}",
        choices=[f"{model}@{a}" for a in ever],
        hint=f"aliases '{model}' has ever had: {', '.join(sorted(ever)) or 'none'}",
    )
