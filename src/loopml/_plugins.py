"""The door for third-party backends: ``py:package.module.ClassName[?key=value…]`` URLs.

Every component with pluggable backends (artifact stores, online stores, executors,
model flavors) accepts such a URL in its resolver. A URL can come from a file someone
else wrote (a model package's ``model.json``, a ``loopml.toml``), so the door is narrow:

1. when the caller passes ``trusted`` (the name came from stored data), the class's
   dotted name must be in it, checked before anything is imported;
2. the module is imported and the name must be a class (``inspect.isclass``): a
   function such as ``os.system`` is refused, never called;
3. the class must have every member the component's Protocol requires (a method, a
   class attribute or an annotated attribute), checked on the class: ``subprocess.Popen``
   is refused, never built;
4. only then is the class built with the URL's query values and the caller's options.

Example:
    >>> load_plugin("py:collections.OrderedDict", {}, members=["keys"],
    ...             what="a mapping", protocol="dict")
    OrderedDict()
"""

from __future__ import annotations

import importlib
import inspect
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from loopml.errors import InvalidInputError, UntrustedTypesError

__all__ = ["load_plugin", "plugin_class", "plugin_name"]


def load_plugin(
    url: str,
    options: dict[str, Any],
    *,
    members: Iterable[str],
    what: str,
    protocol: str,
    trusted: Sequence[str] | None = None,
) -> Any:
    """Build the class ``url`` names, once :func:`plugin_class` has accepted it.

    Args:
        url: ``py:package.module.ClassName`` (or ``package.module:ClassName``), with
            optional ``?key=value`` constructor arguments.
        options: more constructor arguments (they win over the query's).
        members: the attributes the component's Protocol requires.
        what: how errors name the expected thing, e.g. ``"a blob store"``.
        protocol: where the Protocol is documented, for the error message.
        trusted: for a URL read from stored data, the dotted class names the caller
            trusts; ``None`` when the caller wrote the URL itself.

    Raises:
        UntrustedTypesError: ``trusted`` is given and does not name the class.
        InvalidInputError: the name cannot be imported, is not a class, or lacks members.
    """
    members = tuple(members)
    cls = plugin_class(url, members=members, what=what, protocol=protocol, trusted=trusted)
    query = dict(urllib.parse.parse_qsl(url.partition("?")[2]))
    instance = cls(**{**query, **options})
    _check_members(instance, url, cls.__name__, members, what, protocol)
    return instance


def plugin_class(
    url: str,
    *,
    members: Iterable[str],
    what: str,
    protocol: str,
    trusted: Sequence[str] | None = None,
) -> type:
    """The class ``url`` names, checked as :func:`load_plugin` says; nothing is called.

    Example:
        >>> plugin_class("py:collections:OrderedDict", members=["keys"], what="a mapping",
        ...              protocol="dict")
        <class 'collections.OrderedDict'>
    """
    module_name, class_name = _split(url)
    dotted = plugin_name(url)
    if trusted is not None and dotted not in trusted:
        raise UntrustedTypesError(
            f"{url!r} names the class {dotted}, which is not trusted: importing and building "
            f'it runs its code. If you trust it, pass trusted=["{dotted}"] (or --trust '
            f"{dotted} on the CLI)",
            types=[dotted],
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInputError(
            f"{url!r}: cannot import module '{module_name}' ({err}); check the dotted path "
            "and that the package is installed"
        ) from err
    if not hasattr(module, class_name):
        raise InvalidInputError(f"{url!r}: module '{module_name}' has no class '{class_name}'")
    cls = getattr(module, class_name)
    if not inspect.isclass(cls):
        raise InvalidInputError(
            f"{url!r} is not {what}: '{class_name}' in module '{module_name}' is not a class; "
            f"name a class implementing {protocol}"
        )
    _check_members(cls, url, class_name, tuple(members), what, protocol)
    return cls


def plugin_name(url: str) -> str:
    """The dotted name ``trusted`` must hold for ``url``: ``py:a.b:C?x=1`` -> ``a.b.C``."""
    return ".".join(_split(url))


def _split(url: str) -> tuple[str, str]:
    target = url[len("py:") :].partition("?")[0] if url.startswith("py:") else url
    module_name, _, class_name = target.rpartition(":" if ":" in target else ".")
    if not module_name or not class_name:
        raise InvalidInputError(f"{url!r} must name a class as py:package.module.ClassName")
    return module_name, class_name


def _check_members(
    found: Any, url: str, class_name: str, members: tuple[str, ...], what: str, protocol: str
) -> None:
    missing = [name for name in members if not _has(found, name)]
    if missing:
        raise InvalidInputError(
            f"{url!r}: {class_name} is not {what}; it lacks {', '.join(missing)} (see {protocol})"
        )


def _has(found: Any, name: str) -> bool:
    """Whether ``found`` has ``name``; a class may declare a data attribute by annotation."""
    if hasattr(found, name):
        return True
    return inspect.isclass(found) and any(
        name in inspect.get_annotations(klass) for klass in found.__mro__
    )
