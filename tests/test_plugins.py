"""The ``py:`` door: only a class with every Protocol member is built, nothing runs before.

Replays issue 10's attack: the loader used to call any importable callable
(``os.system``, ``subprocess.Popen``) with arguments from the URL's query string and only
then check what it got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loopml._plugins import load_plugin, plugin_class
from loopml.errors import InvalidInputError, UntrustedTypesError

MEMBERS = ("name", "accepts", "save", "load", "requirements")


class Greeter:
    """A class with every member: ``name`` declared, the rest methods."""

    name: str

    def __init__(self, name: str = "hi", loud: str = "0") -> None:
        self.name = name
        self.loud = loud == "1"

    def accepts(self) -> bool:
        return True

    def save(self) -> None: ...

    def load(self) -> None: ...

    def requirements(self) -> list[str]:
        return []


def _load(url: str, **options: Any) -> Any:
    return load_plugin(url, options, members=MEMBERS, what="a model flavor", protocol="Flavor")


def test_a_function_is_refused_before_it_is_called(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(InvalidInputError, match=r"'system' .* is not a class"):
        _load(f"py:os:system?command=touch {pwned}")
    assert not pwned.exists()


def test_a_class_without_the_members_is_refused_before_it_is_built(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(InvalidInputError, match="is not a model flavor; it lacks name, accepts"):
        _load(f"py:subprocess:Popen?args=touch {pwned}&shell=1")
    assert not pwned.exists()


def test_a_class_with_every_member_is_built_with_the_query_and_the_options() -> None:
    built = _load(f"py:{__name__}:Greeter?name=hello&loud=0", loud="1")
    assert isinstance(built, Greeter)
    assert (built.name, built.loud) == ("hello", True)  # options win over the query
    assert plugin_class(f"py:{__name__}.Greeter", members=MEMBERS, what="x", protocol="P") is (
        Greeter
    )


def test_trusted_names_are_checked_before_the_module_is_imported() -> None:
    # the module does not exist: refusing it by name proves nothing was imported
    with pytest.raises(UntrustedTypesError, match=r'trusted=\["evil_xyz.Flavor"\]') as caught:
        plugin_class("py:evil_xyz:Flavor?x=1", members=MEMBERS, what="x", protocol="P", trusted=())
    assert caught.value.types == ["evil_xyz.Flavor"]
    found = plugin_class(
        f"py:{__name__}:Greeter",
        members=MEMBERS,
        what="x",
        protocol="P",
        trusted=[f"{__name__}.Greeter"],
    )
    assert found is Greeter


def test_every_pluggable_component_resolves_through_the_one_shape(tmp_path: Path) -> None:
    from loopml._plugins import PluginKind, resolve
    from loopml.artifacts._resolve import BLOB_STORES
    from loopml.features.online._resolve import ONLINE_STORES
    from loopml.packaging.flavors import FLAVOR_KIND
    from loopml.pipelines.executors._resolve import EXECUTORS

    pwned = tmp_path / "pwned"
    for kind in (BLOB_STORES, ONLINE_STORES, EXECUTORS, FLAVOR_KIND):
        assert isinstance(kind, PluginKind)
        with pytest.raises(InvalidInputError, match=rf"is not {kind.what}; it lacks"):
            resolve(kind, f"py:subprocess:Popen?args=touch {pwned}&shell=1")
        with pytest.raises(InvalidInputError, match=rf"is not {kind.what}: 'system'"):
            resolve(kind, f"py:os:system?command=touch {pwned}")
    assert not pwned.exists()
    assert type(resolve(BLOB_STORES, "memory://")).__name__ == "MemoryBlobStore"
    assert type(resolve(ONLINE_STORES, "memory://")).__name__ == "MemoryOnlineStore"
    assert type(resolve(EXECUTORS, "LOCAL")).__name__ == "LocalExecutor"
    assert resolve(FLAVOR_KIND, "pyfunc").name == "pyfunc"


def _kind(**overrides: Any) -> Any:
    from loopml._plugins import PluginKind

    fields: dict[str, Any] = {
        "what": "a greeter",
        "protocol": "Greeter",
        "members": MEMBERS,
        "builtins": {"greet": lambda url, options: Greeter(**options)},
        "unknown": lambda url, scheme: InvalidInputError(f"no greeter {scheme!r} in {url!r}"),
    }
    return PluginKind(**{**fields, **overrides})


def test_a_built_in_backend_is_checked_against_the_protocol_too() -> None:
    from loopml._plugins import resolve

    assert resolve(_kind(), "greet://", {"name": "x"}).name == "x"
    broken = _kind(builtins={"greet": lambda url, options: object()})
    with pytest.raises(InvalidInputError, match=r"'greet://': object is not a greeter; it lacks"):
        resolve(broken, "greet://")


def test_a_url_without_a_scheme_is_plain_or_a_bare_name_as_the_kind_says() -> None:
    from loopml._plugins import resolve

    with pytest.raises(InvalidInputError, match=r"no greeter '' in 'greet'"):
        resolve(_kind(), "greet")  # a bare name is no scheme unless the kind says so
    assert isinstance(resolve(_kind(bare_names=True), "GREET"), Greeter)
    with pytest.raises(InvalidInputError, match=r"no greeter 'GREET'"):
        resolve(_kind(bare_names=True, fold_case=False), "GREET")
    plain = _kind(plain=lambda url, options: Greeter(name=url))
    assert resolve(plain, "some/folder").name == "some/folder"
    assert resolve(plain, "C:\\data").name == "C:\\data"  # one letter is a drive, no scheme
