"""One way to pick a backend: a URL's scheme, or a ``py:package.module.ClassName`` class.

Every component with pluggable backends (artifact stores, online stores, executors,
model flavors) describes itself once as a :class:`PluginKind` (its Protocol's members and
a table from scheme to built-in backend) and resolves with :func:`resolve`:

- ``scheme://…`` (or a bare ``name`` where the kind allows it) builds the built-in
  backend the kind's table holds for that scheme;
- ``py:package.module.ClassName[?key=value…]`` is the door for third parties.

Whatever is built is checked to have every member of the Protocol before it is returned.

A ``py:`` URL can come from a file someone else wrote (a model package's ``model.json``,
a ``loopml.toml``), so that door is narrow:

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
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from loopml.errors import InvalidInputError, UntrustedTypesError

__all__ = ["PluginKind", "check_class", "load_plugin", "plugin_class", "plugin_name", "resolve"]

T = TypeVar("T")
Factory = Callable[[str, dict[str, Any]], T]

# A scheme needs two characters or more, so "C:\\data" stays a Windows path.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):")
_BARE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


@dataclass(frozen=True)
class PluginKind(Generic[T]):
    """What one pluggable component accepts: its Protocol and its built-in backends.

    Attributes:
        what: how errors name the expected thing, e.g. ``"a blob store"``.
        protocol: where the Protocol is documented, e.g. ``"loopml.artifacts.BlobStore"``.
        members: the attributes the Protocol requires (checked on whatever is built).
        builtins: scheme (lower case) -> factory ``(url, options) -> backend``.
        unknown: the error for a URL whose scheme is not in ``builtins``; it gets the URL
            and the scheme (``""`` when the URL has none).
        plain: the factory for a URL with no scheme (e.g. a directory path), if any.
        bare_names: whether a name with no ``:`` (``local``, ``sklearn``) is a scheme.
        fold_case: whether schemes are case-insensitive (URL schemes are).
    """

    what: str
    protocol: str
    members: tuple[str, ...]
    builtins: Mapping[str, Factory[T]]
    unknown: Callable[[str, str], Exception]
    plain: Factory[T] | None = None
    bare_names: bool = False
    fold_case: bool = True

    def scheme(self, url: str) -> str:
        """The key ``url`` is looked up by in :attr:`builtins` (``""``: it has none)."""
        match = _SCHEME.match(url)
        if match is not None:
            found = match["scheme"]
        elif self.bare_names and _BARE.match(url):
            found = url
        else:
            return ""
        return found.lower() if self.fold_case else found


def resolve(
    kind: PluginKind[T],
    url: str,
    options: dict[str, Any] | None = None,
    *,
    trusted: Sequence[str] | None = None,
) -> T:
    """The backend ``url`` names: a built-in one by scheme, or a ``py:`` class.

    Args:
        kind: the component (its Protocol and built-in backends).
        url: ``scheme://…``, a bare name or path where ``kind`` allows it, or
            ``py:package.module.ClassName[?key=value…]``.
        options: keyword arguments for the backend's constructor.
        trusted: for a ``py:`` URL read from stored data, the class names the caller
            trusts (see :func:`load_plugin`).

    Raises:
        InvalidInputError: a ``py:`` name that is no class with every member, or what
            ``kind.unknown`` raises for an unknown scheme.
        UntrustedTypesError: a ``py:`` class outside ``trusted``.

    Example:
        >>> kind = PluginKind("a mapping", "dict", ("keys",), {"dict": lambda url, o: dict(o)},
        ...                   unknown=lambda url, scheme: ValueError(url), bare_names=True)
        >>> resolve(kind, "dict", {"a": 1})
        {'a': 1}
        >>> resolve(kind, "py:collections.OrderedDict")
        OrderedDict()
    """
    options = options or {}
    if url.startswith("py:"):
        return cast(
            T,
            load_plugin(
                url,
                options,
                members=kind.members,
                what=kind.what,
                protocol=kind.protocol,
                trusted=trusted,
            ),
        )
    scheme = kind.scheme(url)
    factory = kind.builtins.get(scheme) if scheme else kind.plain
    if factory is None:
        raise kind.unknown(url, scheme)
    built = factory(url, options)
    _check_members(built, url, type(built).__name__, kind.members, kind.what, kind.protocol)
    return built


def check_class(kind: PluginKind[Any], url: str) -> type:
    """The ``py:`` class ``url`` names, checked against ``kind``; nothing is built."""
    return plugin_class(url, members=kind.members, what=kind.what, protocol=kind.protocol)


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
