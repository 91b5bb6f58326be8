"""Where an on-demand function lives, what its code is, and finding it again later.

The registry keeps a function's module, file, qualified name, source code and the
SHA-256 of that code, never a pickle. A process that needs the function (a training
job, a server) takes it from the functions defined in this process, else imports
its module (or executes its file), and refuses it when the code is not the code
that was applied: that is what keeps training and serving on the same code.

Example:
    >>> def double(df):
    ...     return df * 2
    >>> describe_function(double, owner="x")["name"]  # doctest: +SKIP
    'double'
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from loopml.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = ["SYNTHETIC_PREFIX", "describe_function", "exec_file", "load_function", "remember"]

# Files executed by path get module names with this prefix; those cannot be imported by name.
SYNTHETIC_PREFIX = "loopml_definitions_"
_known: dict[str, Callable[..., Any]] = {}  # code digest -> function defined in this process
_lock = threading.Lock()


def code_of(function: Callable[..., Any], owner: str) -> str:
    """The dedented source code of ``function``."""
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as err:
        raise InvalidInputError(
            f"{owner}: cannot read the source code of {function!r}; define the function "
            "with `def` in a .py file so that training and serving can run the same code"
        ) from err


def describe_function(function: Callable[..., Any], owner: str) -> dict[str, Any]:
    """Where ``function`` lives and what its code is, for the registry."""
    qualname = getattr(function, "__qualname__", "")
    if not qualname or "<" in qualname:
        raise InvalidInputError(
            f"{owner}: {qualname or function!r} is not a module-level function; define it "
            "with `def` at the top level of a module (not a lambda or a nested function)"
        )
    code = code_of(function, owner)
    source_file = inspect.getsourcefile(function)
    return {
        "name": qualname,
        "module": function.__module__,
        "file": str(Path(source_file).absolute()) if source_file else None,
        "digest": hashlib.sha256(code.encode()).hexdigest(),
        "code": code,
    }


def remember(function: Callable[..., Any], digest: str) -> None:
    """Note that ``function``, whose code has ``digest``, is defined in this process."""
    with _lock:
        _known.setdefault(digest, function)


def load_function(ref: Mapping[str, Any], owner: str) -> Callable[..., Any]:
    """The function ``ref`` (a :func:`describe_function` result) describes, checked.

    Raises:
        NotFoundError: neither its module nor its file can be found.
        ConflictError: its code changed since it was applied.
    """
    with _lock:
        known = _known.get(ref["digest"])
    if known is not None:
        return known
    module = _module_of(ref, owner)
    found: Any = module
    for part in ref["name"].split("."):
        found = getattr(found, part, None)
    found = getattr(found, "function", found)  # the decorator bound the view to the name
    if not callable(found):
        raise NotFoundError(
            "function", f"{ref['module']}.{ref['name']}", hint=f"{owner} needs it; re-apply it"
        )
    digest = hashlib.sha256(code_of(found, owner).encode()).hexdigest()
    if digest != ref["digest"]:
        raise ConflictError(
            f"{owner}: the code of {ref['name']}() changed since it was applied; apply the "
            "definitions again (`loopml features apply`) so training and serving use one code",
            details={"registered": ref["digest"], "found": digest},
        )
    remember(found, digest)
    return found  # type: ignore[no-any-return]


def _module_of(ref: Mapping[str, Any], owner: str) -> ModuleType:
    module_name: str = ref["module"]
    if not module_name.startswith(SYNTHETIC_PREFIX) and module_name != "__main__":
        try:
            return importlib.import_module(module_name)
        except ImportError:
            pass  # not importable here; fall back to the file
    file = ref.get("file")
    if file and Path(file).is_file():
        return exec_file(Path(file))
    raise NotFoundError(
        "module",
        module_name,
        hint=f"{owner} needs its function {ref['name']}(); make the module importable "
        f"or restore the file {file}",
    )


def exec_file(path: Path, *, again: bool = False) -> ModuleType:
    """Execute the Python file ``path`` as a module and return it.

    A file runs once per process, unless ``again`` (it may have been edited since).
    """
    path = path.absolute()
    name = SYNTHETIC_PREFIX + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    with _lock:
        module = sys.modules.get(name)
    if module is not None and not again:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInputError(f"{path} is not a Python file loopml can load")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
