"""Naming datasets and versions: dataset names, ``datasets:/`` URIs and their short forms.

Example:
    >>> parse_target("datasets:/iris/3"), parse_target("iris@latest"), parse_target("iris")
    (('iris', 3), ('iris', None), ('iris', None))
"""

from __future__ import annotations

import re

from loopml.errors import InvalidInputError, quote
from loopml.uris import SCHEMES, parse_short, parse_uri

__all__ = ["check_name", "check_role", "parse_target"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,249}")


def parse_target(uri_or_name: str, version: int | None = None) -> tuple[str, int | None]:
    """``(name, version or None for latest)`` from a dataset URI or a name.

    ``name/3`` and ``name@latest`` are accepted as short for the URIs.

    Raises:
        InvalidInputError: a malformed or non-dataset URI, an alias other than ``latest``,
            a path inside the URI, or a version that contradicts the URI's.

    Example:
        >>> parse_target("datasets:/iris@latest"), parse_target("iris", 3)
        (('iris', None), ('iris', 3))
    """
    if not isinstance(uri_or_name, str):
        raise InvalidInputError(
            f"a dataset is named by a string, got {type(uri_or_name).__name__} "
            f"{quote(uri_or_name)}; give a name, <name>/<version>, <name>@latest or "
            "datasets:/<name>/<version>"
        )
    text = uri_or_name.strip()
    if version is not None and (isinstance(version, bool) or version < 1):
        raise InvalidInputError(f"dataset versions start at 1, got {version!r}")
    if not text:
        raise InvalidInputError("give a dataset name or a datasets:/<name>/<version> URI")
    if ":" not in text or text.partition(":")[0] not in SCHEMES:
        if "/" not in text and "@" not in text:
            return text, version
        return _parse_uri(text, version, short=True)  # name/3, name@latest
    return _parse_uri(text, version, short=False)


def _parse_uri(text: str, version: int | None, *, short: bool) -> tuple[str, int | None]:
    shown = text
    try:
        uri = parse_short(text, "datasets") if short else parse_uri(text)
    except InvalidInputError as err:
        if "alias" in err.details:  # well formed, but datasets have no such alias
            raise
        raise InvalidInputError(
            f"'{shown}' is not a dataset name or URI; give a name, <name>/<version>, "
            "<name>@latest or datasets:/<name>/<version>"
        ) from err
    if uri.scheme != "datasets":
        raise InvalidInputError(
            f"'{shown}' is a {uri.scheme} URI; give datasets:/<name>/<version>, "
            "datasets:/<name>@latest or a dataset name"
        )
    if uri.path:
        raise InvalidInputError(
            f"'{shown}' names a file inside a dataset version; give datasets:/<name>/<version>"
        )
    if version is not None and uri.version is not None and version != uri.version:
        raise InvalidInputError(f"'{shown}' names version {uri.version}, not {version}")
    return uri.name, uri.version if uri.version is not None else version


def check_name(name: str) -> None:
    """Refuse a name that could not appear in ``datasets:/<name>/<version>``."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InvalidInputError(
            f"invalid dataset name {quote(name)}; use 1 to 250 letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_' (it appears in datasets:/<name>/<version>)"
        )


def check_role(role: str) -> None:
    """Refuse a lineage role other than ``input`` and ``output``."""
    if role not in ("input", "output"):
        raise InvalidInputError(
            f"role must be 'input' (the run consumed the data) or 'output' (it produced "
            f"it), got {role!r}"
        )
