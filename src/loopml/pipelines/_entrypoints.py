"""Import a pipeline from ``package.module:name`` or ``path/to/file.py:name``.

Example:
    >>> load_pipeline("os:sep")  # doctest: +SKIP
    InvalidInputError: os:sep is a str, not a @loopml.pipeline
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, MissingFileError, NotFoundError, close_matches

__all__ = ["load_pipeline"]


_DIGEST = "__loopml_source_sha256__"


def load_pipeline(target: str) -> Any:
    """The :class:`~loopml.pipelines.Pipeline` that ``target`` names."""
    from loopml.pipelines.pipeline import Pipeline

    location, sep, name = target.rpartition(":")
    if not sep or not location or not name:
        raise InvalidInputError(
            f"pipeline target {target!r} must look like 'package.module:name' or "
            "'path/to/file.py:name'"
        )
    module = _import(location)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            pipelines = [k for k, v in vars(module).items() if isinstance(v, Pipeline)]
            raise NotFoundError(
                "pipeline",
                target,
                choices=[f"{location}:{p}" for p in close_matches(name, pipelines)],
                hint=f"pipelines in {location}: {', '.join(sorted(pipelines)) or 'none'}",
            )
        obj = getattr(obj, part)
    if not isinstance(obj, Pipeline):
        raise InvalidInputError(f"{target} is a {type(obj).__name__}, not a @loopml.pipeline")
    return obj


def _import(location: str) -> Any:
    if location.endswith(".py") or "/" in location:
        path = Path(location).expanduser().absolute()
        if not path.is_file():
            raise MissingFileError("pipeline file", location)
        name = "loopml_pipeline_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        cached = sys.modules.get(name)
        if cached is not None and getattr(cached, _DIGEST, None) == digest:
            return cached
        # Not loaded yet, or the file changed since (a long-running agent fires the
        # pipeline again after a commit): execute it afresh.
        # The file's folder goes on sys.path so it can import its sibling modules.
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if cached is not None:  # keep the last good version for whoever holds it
                sys.modules[name] = cached
            else:
                del sys.modules[name]
            raise
        setattr(module, _DIGEST, digest)
        _pickle_by_value(module)
        return module
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(location)
    except ModuleNotFoundError as err:
        raise NotFoundError(
            "module", location, hint=f"{err}; run from the project folder or install it"
        ) from err
    return _fresh(module)


def _fresh(module: Any) -> Any:
    """``module``, reloaded when its file changed since it was imported (a long-running
    agent fires the pipeline again after a commit). Modules it imports are not reloaded."""
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        return module
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    seen = getattr(module, _DIGEST, None)
    if seen is not None and seen != digest:
        module = importlib.reload(module)
    setattr(module, _DIGEST, digest)
    return module


def _pickle_by_value(module: Any) -> None:
    # Workers in other processes (Dask, Ray) cannot import a module loaded from a file
    # path, so its functions travel by value.
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:
        return
    cloudpickle.register_pickle_by_value(module)
