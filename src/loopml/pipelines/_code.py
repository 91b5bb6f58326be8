"""What a step's code depends on: its source, the project code it calls, the packages.

A step's *code identity* covers:

* its own source, parsed to an AST (so comments and formatting do not count, but every
  change of meaning does; decorators are left out so ``retries=`` does not matter);
* the same for every function and class *of the project* it reaches through global
  names, module attributes and imports, transitively, and the values of plain
  module-level constants they read;
* the versions of the installed packages those names come from, and Python's.

"The project" is code that is not in the standard library, not in site-packages and
not loopml itself. Digests are cached per code object, so tracing a pipeline again in
the same process costs a dictionary lookup per step.

Example:
    >>> identity = code_identity(len)
    >>> identity.packages["python"].count(".")
    1
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import inspect
import sys
import sysconfig
import textwrap
import threading
import types
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["CodeIdentity", "code_identity", "is_project_module", "module_label"]

_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))
_lock = threading.Lock()
# id(code object) -> (the code, its globals, identity); ids are only trusted while the
# entry holds the objects themselves, and equal code in another module is another entry.
_cache: dict[int, tuple[Any, Any, CodeIdentity]] = {}


@dataclass(slots=True)
class CodeIdentity:
    """The digests a step's cache key takes from its code."""

    source: str  # digest of the function's own source
    helpers: dict[str, str] = field(default_factory=dict)  # qualified name -> digest
    constants: dict[str, str] = field(default_factory=dict)  # qualified name -> repr
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version


def code_identity(fn: Any) -> CodeIdentity:
    """The code identity of ``fn`` (see the module docstring)."""
    target = inspect.unwrap(getattr(fn, "fn", fn) if _is_step(fn) else fn)
    code = getattr(target, "__code__", target)
    namespace = getattr(target, "__globals__", None)
    with _lock:
        entry = _cache.get(id(code))
    if entry is not None and entry[0] is code and entry[1] is namespace:
        return entry[2]
    walker = _Walker()
    identity = CodeIdentity(source=source_digest(target))
    walker.visit_function(target, identity, top=True)
    identity.packages["python"] = f"{sys.version_info.major}.{sys.version_info.minor}"
    with _lock:
        _cache[id(code)] = (code, namespace, identity)
    return identity


def source_digest(obj: Any) -> str:
    """SHA-256 of the AST of ``obj``'s source (decorators dropped), or of its bytecode."""
    try:
        source = textwrap.dedent(inspect.getsource(obj))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return _bytecode_digest(obj)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node.decorator_list = []
            break
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _bytecode_digest(obj: Any) -> str:
    code = getattr(obj, "__code__", None)
    if code is None:
        return hashlib.sha256(repr(obj).encode()).hexdigest()
    parts = [code.co_code, repr(code.co_consts).encode(), repr(code.co_names).encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


class _Walker:
    def __init__(self) -> None:
        self.seen: set[int] = set()

    def visit_function(self, fn: Any, identity: CodeIdentity, top: bool = False) -> None:
        fn = getattr(fn, "fn", fn) if _is_step(fn) else fn
        fn = inspect.unwrap(fn)
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        if not top:
            identity.helpers[_name(fn)] = source_digest(fn)
        code = getattr(fn, "__code__", None)
        if code is None:
            return
        names = _names_in(code)
        namespace = getattr(fn, "__globals__", {})
        closure = _closure_values(fn)
        for name in names:
            if name in closure:
                self.visit_value(closure[name], name, names, identity)
            elif name in namespace:
                self.visit_value(namespace[name], name, names, identity, namespace)
            else:
                # `import pkg` inside the function: the name is a module, not a global.
                module = sys.modules.get(name)
                if module is not None:
                    self.visit_value(module, name, names, identity)

    def visit_class(self, cls: type, identity: CodeIdentity) -> None:
        if id(cls) in self.seen:
            return
        self.seen.add(id(cls))
        identity.helpers[_name(cls)] = source_digest(cls)
        for member in vars(cls).values():
            target = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if inspect.isfunction(target):
                self.visit_function(target, identity)
                identity.helpers.pop(_name(target), None)  # the class's source covers it

    def visit_value(
        self,
        value: Any,
        name: str,
        names: set[str],
        identity: CodeIdentity,
        namespace: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(value, types.ModuleType):
            self.visit_module(value, names, identity)
            return
        if namespace is not None and _is_constant(value):
            owner = str(namespace.get("__name__", "?"))
            if _is_project_file(owner, namespace.get("__file__")):
                label = module_label(owner, namespace.get("__file__"))
                identity.constants[f"{label}.{name}"] = repr(value)
            return
        module_name = _module_of(value)
        if module_name is None:
            return
        if not _is_project_object(value, module_name, namespace):
            _add_package(module_name, identity)
            return
        if _is_step(value) or inspect.isfunction(value):
            self.visit_function(value, identity)
        elif inspect.isclass(value):
            self.visit_class(value, identity)

    def visit_module(
        self, module: types.ModuleType, names: set[str], identity: CodeIdentity
    ) -> None:
        if not _is_project_file(module.__name__, getattr(module, "__file__", None)):
            _add_package(module.__name__, identity)
            return
        # `helpers.clean(...)`: follow the attributes of a project module the code names.
        for attribute in names:
            value = getattr(module, attribute, None)
            if value is None or isinstance(value, types.ModuleType):
                continue
            if _is_step(value) or inspect.isfunction(value) or inspect.isclass(value):
                if _module_of(value) == module.__name__:
                    self.visit_value(value, attribute, names, identity)
            elif _is_constant(value):
                label = module_label(module.__name__, getattr(module, "__file__", None))
                identity.constants[f"{label}.{attribute}"] = repr(value)


def _names_in(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def _closure_values(fn: Any) -> dict[str, Any]:
    cells = getattr(fn, "__closure__", None) or ()
    values = {}
    for name, cell in zip(fn.__code__.co_freevars, cells, strict=False):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    return values


def _is_step(value: Any) -> bool:
    return type(value).__name__ == "Step" and type(value).__module__ == "loopml.pipelines.step"


def _is_constant(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return not isinstance(value, str | bytes) or len(value) <= 10_000
    if isinstance(value, tuple | frozenset) and depth < 3 and len(value) <= 1000:
        return all(_is_constant(v, depth + 1) for v in value)
    return False


def _name(obj: Any) -> str:
    qualname = getattr(obj, "_loopml_qualname", None) or getattr(obj, "__qualname__", "?")
    module = str(getattr(obj, "__module__", "?"))
    code = getattr(obj, "__code__", None)
    file = (
        code.co_filename if code is not None else getattr(sys.modules.get(module), "__file__", None)
    )
    return f"{module_label(module, file)}.{qualname}"


def module_label(module_name: str, file: str | None) -> str:
    """How keys name a module: its name, or its file for a script.

    A script is ``__main__`` when run with ``python flow.py`` and gets another name when
    ``loopml pipeline run flow.py:…`` or a resume imports it; its path stays the same.
    """
    if (module_name == "__main__" or module_name.startswith("loopml_pipeline_")) and file:
        return str(Path(file).resolve())
    return module_name


def _module_of(value: Any) -> str | None:
    module = getattr(value, "__module__", None)
    if isinstance(module, str):
        return module
    module = getattr(type(value), "__module__", None)
    return module if isinstance(module, str) else None


@cache
def _library_roots() -> tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(str(Path(path).resolve()))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        roots.add(str(Path(prefix, "lib").resolve()))
    return tuple(sorted(roots))


def is_project_module(module_name: str) -> bool:
    """Whether ``module_name`` is the user's own code (neither a library nor loopml)."""
    module = sys.modules.get(module_name) or sys.modules.get(module_name.partition(".")[0])
    return _is_project_file(module_name, getattr(module, "__file__", None))


def _is_project_object(value: Any, module_name: str, namespace: dict[str, Any] | None) -> bool:
    # Judge by the file the object comes from: module names can be reused (a script
    # run twice, modules re-imported from another folder), files cannot.
    code = getattr(inspect.unwrap(value) if callable(value) else value, "__code__", None)
    if code is not None:
        return _is_project_file(module_name, code.co_filename)
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if path is None and namespace is not None and namespace.get("__name__") == module_name:
        path = namespace.get("__file__")
    return _is_project_file(module_name, path)


@cache
def _is_project_file(module_name: str, path: str | None) -> bool:
    top = module_name.partition(".")[0]
    if top == "loopml" or top in sys.stdlib_module_names or top == "builtins":
        return False
    if not path or path.startswith("<"):
        return module_name == "__main__" or bool(path and path.startswith("<"))
    resolved = str(Path(path).resolve())
    return not any(resolved.startswith(root + "/") for root in _library_roots())


def _add_package(module_name: str, identity: CodeIdentity) -> None:
    top = module_name.partition(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return
    for dist, version in _distribution_versions(top):
        identity.packages[dist] = version


@cache
def _distribution_versions(top: str) -> tuple[tuple[str, str], ...]:
    dists = _packages_distributions().get(top, [])
    found = []
    for dist in dists:
        try:
            found.append((dist.lower(), importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            continue
    if not found:
        version = getattr(sys.modules.get(top), "__version__", None)
        if isinstance(version, str):
            found.append((top, version))
    return tuple(sorted(found))


@cache
def _packages_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())
