"""The door for third-party backends: ``py:package.module.ClassName[?key=value…]`` URLs.

Every component with pluggable backends (artifact stores, online stores, …) accepts such
a URL in its resolver; this module imports the class, builds it with the URL's query
values and the caller's options, and checks it has what the component's Protocol needs.

Example:
    >>> load_plugin("py:collections.OrderedDict", {}, members=["keys"],
    ...             what="a mapping", protocol="dict")
    OrderedDict()
"""

from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import Iterable
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["load_plugin"]


def load_plugin(
    url: str, options: dict[str, Any], *, members: Iterable[str], what: str, protocol: str
) -> Any:
    """Instantiate the class ``url`` names; refuse it unless it has every one of ``members``.

    Args:
        url: ``py:package.module.ClassName`` (or ``package.module:ClassName``), with
            optional ``?key=value`` constructor arguments.
        options: more constructor arguments (they win over the query's).
        members: the attributes the component's Protocol requires.
        what: how errors name the expected thing, e.g. ``"a blob store"``.
        protocol: where the Protocol is documented, for the error message.
    """
    target, _, query = url[len("py:") :].partition("?")
    module_name, _, class_name = target.rpartition(":" if ":" in target else ".")
    if not module_name or not class_name:
        raise InvalidInputError(f"{url!r} must name a class as py:package.module.ClassName")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInputError(
            f"{url!r}: cannot import module '{module_name}' ({err}); check the dotted path "
            "and that the package is installed"
        ) from err
    cls = getattr(module, class_name, None)
    if not callable(cls):
        raise InvalidInputError(f"{url!r}: module '{module_name}' has no class '{class_name}'")
    instance = cls(**{**dict(urllib.parse.parse_qsl(query)), **options})
    missing = [name for name in members if not hasattr(instance, name)]
    if missing:
        raise InvalidInputError(
            f"{url!r}: {class_name} is not {what}; it lacks {', '.join(missing)} (see {protocol})"
        )
    return instance
