"""Pinned requirements: the exact versions a package was saved with.

Example:
    >>> pin_requirements(["numpy"], ["requests>=2"])[0].startswith("numpy==")
    True
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Sequence

from loopml.errors import InvalidInputError

__all__ = ["pin_requirements", "requirement_drift", "requirement_name"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_BARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PIN = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?\s*(?:==\s*(?P<version>[^\s;]+))?"
)


def pin_requirements(distributions: Iterable[str], extra: Sequence[str] | None = None) -> list[str]:
    """``name==version`` for each installed distribution, then the caller's own lines.

    A caller's line replaces the automatic pin of the same distribution; a bare name
    is pinned to the installed version.

    Raises:
        InvalidInputError: an extra requirement is malformed, or a bare name is not
            installed (so it cannot be pinned).
    """
    pins: dict[str, str] = {}
    for name in distributions:
        version = _installed_version(name)
        if version is not None:
            pins.setdefault(requirement_name(name), f"{name}=={version}")
    if isinstance(extra, str):
        extra = [extra]
    for line in extra or ():
        text = line.strip()
        name = requirement_name(text)
        if _BARE.fullmatch(text):
            version = _installed_version(text)
            if version is None:
                raise InvalidInputError(
                    f"requirement '{text}' is not installed, so it cannot be pinned; write "
                    f"the version yourself ('{text}==1.2.3')"
                )
            text = f"{text}=={version}"
        pins[name] = text
    return list(pins.values())


def requirement_name(line: str) -> str:
    """The normalized distribution name a requirement line is about (PEP 503).

    Raises:
        InvalidInputError: the line does not start with a distribution name.
    """
    match = _NAME.match(line)
    if match is None:
        raise InvalidInputError(
            f"requirement {line!r} does not start with a package name; write e.g. "
            "'requests==2.32.3' or 'requests>=2'"
        )
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirement_drift(requirements: Iterable[str]) -> tuple[list[str], list[str]]:
    """(pins whose distribution is not installed, notes on versions that differ).

    Comments, blank lines and unpinned requirements are not judged.

    Example:
        >>> requirement_drift(["loopml-no-such-distribution==2", "# note"])
        (['loopml-no-such-distribution==2'], [])
    """
    missing: list[str] = []
    differ: list[str] = []
    for line in requirements:
        match = _PIN.match(line)
        if match is None or not line.strip() or line.lstrip().startswith("#"):
            continue
        installed = _installed_version(match["name"])
        if installed is None:
            missing.append(line.strip())
        elif match["version"] and installed != match["version"]:
            differ.append(
                f"{match['name']} {installed} is installed, the package pins {line.strip()}"
            )
    return missing, differ


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
