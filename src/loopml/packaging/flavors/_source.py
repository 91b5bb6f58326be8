"""Where a pyfunc class's code comes from: naming it, packaging its file, importing it.

Example:
    >>> from collections import OrderedDict
    >>> class_reference(OrderedDict)
    'collections:OrderedDict'
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import sys
import sysconfig
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, NotFoundError, UntrustedTypesError

__all__ = ["class_reference", "copy_module", "distributions_of", "import_class"]

CODE = "code"
_import_lock = threading.Lock()


def class_reference(cls: type) -> str:
    """``module:QualName`` of a class that can be imported again.

    Raises:
        InvalidInputError: the class is defined in a function or in the running script.
    """
    if "<locals>" in cls.__qualname__:
        raise InvalidInputError(
            f"{cls.__qualname__} is defined inside a function; move the class to module level "
            "so loading can import it"
        )
    if cls.__module__ == "__main__":
        raise InvalidInputError(
            f"{cls.__name__} is defined in the script being run (__main__), which loading "
            "cannot import; move the class into a module (its file is packaged with the model)"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


def copy_module(cls: type, folder: Path) -> str | None:
    """Copy the class's module file into ``folder/code/`` when it is a project file.

    Returns:
        The copy's path inside the package, or ``None`` when the module comes from an
        installed package, the standard library, or is not a plain ``.py`` file.
    """
    source = _module_file(cls)
    if source is None or _is_installed(source):
        return None
    parts = cls.__module__.split(".")
    is_package = source.name == "__init__.py"
    relative = Path(*parts, "__init__.py") if is_package else Path(*parts[:-1], parts[-1] + ".py")
    target = folder / CODE / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    for depth in range(1, len(parts)):
        init = folder / CODE / Path(*parts[:depth]) / "__init__.py"
        if not init.exists():
            init.write_text("")  # a bare package, so the module imports under its own name
    return (Path(CODE) / relative).as_posix()


def import_class(reference: str, code: Path | None, trusted: Sequence[str] = ()) -> Any:
    """The class ``module:QualName`` names; ``code`` (the packaged ``code/``) is the fallback.

    Importing the packaged copy runs code that came with the package, not code this
    environment has installed, so it needs the class named in ``trusted``, just as a
    skops file's unknown types do.

    Raises:
        NotFoundError: the module is neither importable nor packaged.
        UntrustedTypesError: only the packaged copy provides it, and it is not trusted.
        InvalidInputError: the module has no such class, or its packaged copy fails.
    """
    module_name, _, qualname = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or module_name
        if code is None or not (module_name + ".").startswith(missing + "."):
            raise NotFoundError(
                "module",
                missing,
                hint=f"{reference} needs it: install the package that provides it (the "
                "model's requirements.txt lists what it was logged with)",
            ) from err
        dotted = f"{module_name}.{qualname}"
        if dotted not in trusted:
            raise UntrustedTypesError(
                f"{reference} is not installed here; only the package's own copy of its code "
                f"provides it, and importing that runs the package author's code. If you "
                f'trust the author, pass trusted=["{dotted}"] to load_model (or --trust '
                f"{dotted} on the CLI), or install the project that provides {module_name}",
                types=[dotted],
            ) from err
        module = _import_packaged(module_name, code, reference)
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise InvalidInputError(
                f"module '{module_name}' has no class '{qualname}' any more; load the model "
                "with the code it was logged with"
            )
    return target


def distributions_of(cls: type) -> list[str]:
    """The installed distribution that provides the class's module, if any."""
    source = _module_file(cls)
    if source is None or not _is_installed(source):
        return []
    top = cls.__module__.split(".")[0]
    found = importlib.metadata.packages_distributions().get(top, [])
    return sorted(set(found))[:1]


def _import_packaged(module_name: str, code: Path, reference: str) -> Any:
    root = str(code)
    with _import_lock:
        if root not in sys.path:
            sys.path.append(root)  # last: an importable copy of the project wins
        writes = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # no __pycache__ inside the verified package
        try:
            return importlib.import_module(module_name)
        except ImportError as err:
            raise InvalidInputError(
                f"the packaged code of {reference} does not import ({err}); it may need other "
                "project modules: install the project, or make the class self-contained"
            ) from err
        finally:
            sys.dont_write_bytecode = writes


def _module_file(cls: type) -> Path | None:
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py"):
        return None
    return Path(file).resolve()


def _is_installed(path: Path) -> bool:
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    paths = sysconfig.get_paths()
    roots = {Path(paths[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(path.is_relative_to(root) for root in roots)
