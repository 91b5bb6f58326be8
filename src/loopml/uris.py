"""The one parser for loopml URIs.

Forms:
    ``runs:/<run_id>[/<path>]``            a run, or an artifact path inside it
    ``models:/<name>/<version>``           a model version
    ``models:/<name>@<alias>``             the version an alias points at
    ``datasets:/<name>/<version>``         a dataset version
    ``datasets:/<name>@latest``            the latest dataset version (datasets have no
                                           other alias)

Build URIs with :func:`model_uri`, :func:`run_uri`, :func:`dataset_uri` and (from a
lineage node) :func:`node_uri`; name a thing in another environment's store with
:func:`env_uri` (``staging:models:/churn/3``), read back with :func:`split_env_uri`;
ask what a string is with :func:`is_uri`; read the short forms commands accept
(``churn/3``, ``iris@latest``) with :func:`parse_short` and :func:`strip_scheme`, rather
than writing f-strings, ``startswith`` and ``removeprefix``.

Example:
    >>> model_uri("churn", alias="production"), dataset_uri("iris"), run_uri("01J0ABC", "model")
    ('models:/churn@production', 'datasets:/iris@latest', 'runs:/01J0ABC/model')
    >>> is_uri("models:/churn/3", "models"), is_uri("churn.pkl")
    (True, False)
    >>> parse_uri("models:/churn@production")
    LoopmlURI(scheme='models', name='churn', version=None, alias='production', path='')
    >>> str(parse_uri("runs:/01J0ABC/model/model.json"))
    'runs:/01J0ABC/model/model.json'
    >>> parse_short("churn@production", "models") == parse_uri("models:/churn@production")
    True
    >>> node_uri("dataset_version", "iris/2"), node_uri("step_output", "01J0/out")
    ('datasets:/iris/2', None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import InvalidInputError, quote

__all__ = [
    "SCHEMES",
    "LoopmlURI",
    "dataset_uri",
    "env_uri",
    "is_uri",
    "model_uri",
    "node_uri",
    "parse_short",
    "parse_uri",
    "run_uri",
    "split_env_uri",
    "strip_scheme",
]

SCHEMES = ("runs", "models", "datasets")
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_VERSIONED = re.compile(
    rf"^(?P<name>{_NAME})(?:/(?P<version>[0-9]+)|@(?P<alias>{_NAME}))(?P<path>/.*)?"
)
_RUN = re.compile(r"^(?P<name>[A-Za-z0-9]+)(?P<path>/.*)?")
_ENV = re.compile(r"^(?P<env>[A-Za-z][A-Za-z0-9_-]{0,62}):(?P<uri>[a-z]+:/.*)$")


@dataclass(frozen=True, slots=True)
class LoopmlURI:
    """A parsed URI. ``name`` is the run id for ``runs:/`` URIs."""

    scheme: str
    name: str
    version: int | None = None
    alias: str | None = None
    path: str = ""

    def __str__(self) -> str:
        head = f"{self.scheme}:/{self.name}"
        if self.version is not None:
            head += f"/{self.version}"
        elif self.alias is not None:
            head += f"@{self.alias}"
        return head + (f"/{self.path}" if self.path else "")


def parse_uri(uri: str) -> LoopmlURI:
    """Parse ``uri`` or raise :class:`InvalidInputError` saying which form was expected."""
    if not isinstance(uri, str):
        raise InvalidInputError(
            f"a loopml URI must be a string, got {type(uri).__name__} {quote(uri)}; "
            "e.g. runs:/<run_id>/<path> or models:/<name>/<version>"
        )
    scheme, colon, after = uri.partition(":")
    if not colon or scheme not in SCHEMES:
        raise InvalidInputError(
            f"{quote(uri)} is not a loopml URI; expected one of runs:/<run_id>/<path>, "
            "models:/<name>/<version>, models:/<name>@<alias>, datasets:/<name>/<version>"
        )
    pattern = _RUN if scheme == "runs" else _VERSIONED
    # ``runs:`` or ``models:churn/1`` (no '/' after the scheme) are malformed, not foreign.
    match = pattern.fullmatch(after[1:]) if after.startswith("/") else None
    if match is None:
        expected = {
            "runs": "runs:/<run_id>[/<path>]",
            "models": "models:/<name>/<version> or models:/<name>@<alias>",
            "datasets": "datasets:/<name>/<version> or datasets:/<name>@latest",
        }[scheme]
        raise InvalidInputError(f"malformed URI {quote(uri)}; expected {expected}")
    groups = match.groupdict()
    path = (groups.get("path") or "").strip("/")
    if ".." in path.split("/"):
        raise InvalidInputError(f"URI '{uri}' has '..' in its path; name the file inside it")
    version, alias = groups.get("version"), groups.get("alias")
    if scheme == "datasets" and alias is not None and alias != "latest":
        raise InvalidInputError(
            f"datasets have no alias '{alias}'; use @latest or a version number, "
            f"e.g. datasets:/{groups['name']}@latest",
            details={"uri": uri, "alias": alias},
        )
    return LoopmlURI(
        scheme=scheme,
        name=groups["name"],
        version=int(version) if version is not None else None,
        alias=alias,
        path=path,
    )


def is_uri(text: object, scheme: str | tuple[str, ...] | None = None) -> bool:
    """Whether ``text`` is written as a loopml URI (of ``scheme`` or one of several).

    Only the ``<scheme>:/`` prefix is looked at: :func:`parse_uri` says whether the rest
    is well formed.
    """
    if not isinstance(text, str):
        return False
    schemes = SCHEMES if scheme is None else (scheme,) if isinstance(scheme, str) else scheme
    return any(text.startswith(f"{name}:/") for name in schemes)


def model_uri(name: str, version: int | None = None, *, alias: str | None = None) -> str:
    """``models:/<name>/<version>`` or ``models:/<name>@<alias>`` (exactly one is given)."""
    if (version is None) == (alias is None):
        given = "both" if version is not None else "neither"
        raise InvalidInputError(
            f"a model URI names a version or an alias, not {given}; "
            f"e.g. models:/{name}/3 or models:/{name}@production"
        )
    return str(LoopmlURI("models", name, version=version, alias=alias))


def run_uri(run_id: str, path: str = "") -> str:
    """``runs:/<run_id>`` or ``runs:/<run_id>/<path>``."""
    return str(LoopmlURI("runs", run_id, path=path.strip("/")))


def dataset_uri(name: str, version: int | None = None) -> str:
    """``datasets:/<name>/<version>``, or ``datasets:/<name>@latest`` without a version."""
    return str(
        LoopmlURI("datasets", name, version=version, alias="latest" if version is None else None)
    )


# The lineage node kinds that have a URI, and its scheme.
_NODE_SCHEMES = {"run": "runs", "model_version": "models", "dataset_version": "datasets"}


def node_uri(kind: str, node_id: str) -> str | None:
    """The URI of the lineage node ``(kind, node_id)``; ``None`` for kinds without one.

    A version's node id is ``<name>/<version>``, a run's its id.
    """
    scheme = _NODE_SCHEMES.get(kind)
    if scheme is None:
        return None
    if scheme == "runs":
        return run_uri(node_id)
    name, _, version = node_id.rpartition("/")
    return str(LoopmlURI(scheme, name, version=int(version)))


def strip_scheme(text: str, scheme: str) -> str:
    """``text`` without a leading ``<scheme>:/`` (unchanged when it has none)."""
    return text.removeprefix(f"{scheme}:/")


def parse_short(text: str, scheme: str) -> LoopmlURI:
    """Parse a ``scheme`` URI written in full or without its prefix (``churn/3``).

    Raises:
        InvalidInputError: malformed, or a URI of another scheme.
    """
    if is_uri(text) and not is_uri(text, scheme):
        raise InvalidInputError(
            f"{quote(text)} is not a {scheme}:/ URI; give {scheme}:/<name>/<version> or its "
            "short form <name>/<version>"
        )
    return parse_uri(f"{scheme}:/{strip_scheme(text, scheme)}")


def env_uri(env: str, uri: str) -> str:
    """``uri`` qualified by the environment whose store holds it: ``staging:models:/churn/3``.

    Raises:
        InvalidInputError: ``env`` is not an environment name, or ``uri`` not a loopml URI.

    Example:
        >>> env_uri("dev", model_uri("churn", 2))
        'dev:models:/churn/2'
    """
    qualified = f"{env}:{parse_uri(uri)}"
    if _ENV.match(qualified) is None:
        raise InvalidInputError(
            f"environment name {quote(env)} is not valid; use a letter then letters, digits, "
            "'_' or '-' (e.g. dev, staging, prod)"
        )
    return qualified


def split_env_uri(text: str) -> tuple[str, LoopmlURI]:
    """The environment and the URI of an :func:`env_uri` string.

    Raises:
        InvalidInputError: ``text`` is not ``<env>:<uri>``.

    Example:
        >>> split_env_uri("dev:models:/churn/2")
        ('dev', LoopmlURI(scheme='models', name='churn', version=2, alias=None, path=''))
    """
    found = _ENV.match(text) if isinstance(text, str) else None
    if found is None:
        raise InvalidInputError(
            f"{quote(text)} is not an environment-qualified URI; expected <env>:<uri>, "
            "e.g. dev:models:/churn/2"
        )
    return found["env"], parse_uri(found["uri"])
