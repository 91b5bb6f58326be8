"""Materializers: how a step output of each type becomes a file and comes back.

Chosen by type, first match wins: materializers you register, then the built-ins:

==============  ===========================================  ==========
name            accepts                                      file
==============  ===========================================  ==========
``json``        None, bool, int, float, str, lists and dicts  ``.json``
``parquet``     pandas DataFrame and Series, pyarrow Table   ``.parquet``
``numpy``       numpy arrays (not of Python objects)         ``.npy``
``skops``       fitted scikit-learn estimators               ``.skops``
``pickle``      anything, only with ``allow_pickle=True``    ``.pkl``
==============  ===========================================  ==========

Parquet files are written the same way every time, so equal tables have equal digests
and the steps that read them stay cached.

Example:
    >>> m = choose_materializer({"a": 1}, step="s", output="output", allow_pickle=False)
    >>> m.name
    'json'
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from loopml.errors import InvalidInputError, NotFoundError
from loopml.pipelines._canonical import canonical_json, is_json_value

__all__ = [
    "Materializer",
    "choose_materializer",
    "get_materializer",
    "register_materializer",
    "unregister_materializer",
]


@runtime_checkable
class Materializer(Protocol):
    """Writes values of some types to one file and reads them back.

    Example:
        >>> class TextMaterializer:
        ...     name, extension = "text", ".txt"
        ...     def accepts(self, value): return isinstance(value, str)
        ...     def save(self, value, path): path.write_text(value)
        ...     def load(self, path): return path.read_text()
    """

    name: str
    extension: str

    def accepts(self, value: Any) -> bool: ...

    def save(self, value: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any: ...


class JsonMaterializer:
    name, extension = "json", ".json"

    def accepts(self, value: Any) -> bool:
        return is_json_value(value)

    def save(self, value: Any, path: Path) -> None:
        path.write_bytes(canonical_json(value))

    def load(self, path: Path) -> Any:
        return json.loads(path.read_bytes())


class ParquetMaterializer:
    """pandas and Arrow tables, written deterministically."""

    name, extension = "parquet", ".parquet"
    _SERIES_KEY = b"loopml.series"

    def accepts(self, value: Any) -> bool:
        module = type(value).__module__
        if module.startswith("pandas"):
            import pandas as pd

            return isinstance(value, pd.DataFrame | pd.Series)
        if module.startswith("pyarrow"):
            import pyarrow as pa

            return isinstance(value, pa.Table)
        return False

    def save(self, value: Any, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        metadata: dict[bytes, bytes] = {}
        if isinstance(value, pa.Table):
            table = value
            metadata[b"loopml.kind"] = b"arrow"
        else:
            import pandas as pd

            if isinstance(value, pd.Series):
                metadata[self._SERIES_KEY] = json.dumps(value.name).encode()
                value = value.to_frame(name="__series__" if value.name is None else value.name)
            table = pa.Table.from_pandas(value)
            metadata[b"loopml.kind"] = b"pandas"
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        pq.write_table(table, path, compression="zstd", write_statistics=True, store_schema=True)

    def load(self, path: Path) -> Any:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        metadata = table.schema.metadata or {}
        if metadata.get(b"loopml.kind") == b"arrow":
            return table
        frame = table.to_pandas()
        if self._SERIES_KEY in metadata:
            series = frame.iloc[:, 0]
            series.name = json.loads(metadata[self._SERIES_KEY])
            return series
        return frame


class NumpyMaterializer:
    name, extension = "numpy", ".npy"

    def accepts(self, value: Any) -> bool:
        if "numpy" not in sys.modules:
            return False
        import numpy as np

        return isinstance(value, np.ndarray) and value.dtype != object

    def save(self, value: Any, path: Path) -> None:
        import numpy as np

        with path.open("wb") as f:
            np.save(f, value, allow_pickle=False)

    def load(self, path: Path) -> Any:
        import numpy as np

        return np.load(path, allow_pickle=False)


class SkopsMaterializer:
    """Fitted scikit-learn estimators, with skops (no pickle)."""

    name, extension = "skops", ".skops"

    def accepts(self, value: Any) -> bool:
        if "sklearn" not in sys.modules:
            return False
        from sklearn.base import BaseEstimator

        return isinstance(value, BaseEstimator)

    def save(self, value: Any, path: Path) -> None:
        sio = _skops()
        sio.dump(value, path)

    def load(self, path: Path) -> Any:
        # The file is the content-addressed output of one of this store's steps, read
        # back after its digest was checked; its types are the ones the step produced.
        sio = _skops()
        return sio.load(path, trusted=sio.get_untrusted_types(file=path))


class PickleMaterializer:
    """Anything, when the step allows pickle. Load only what a trusted step wrote."""

    name, extension = "pickle", ".pkl"

    def accepts(self, value: Any) -> bool:
        return True

    def save(self, value: Any, path: Path) -> None:
        with path.open("wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path) -> Any:
        with path.open("rb") as f:
            return pickle.load(f)


def _skops() -> Any:
    from loopml.packaging.flavors.sklearn import import_skops

    return import_skops("storing scikit-learn models")


_BUILTIN: list[Materializer] = [
    JsonMaterializer(),
    ParquetMaterializer(),
    NumpyMaterializer(),
    SkopsMaterializer(),
]
_PICKLE = PickleMaterializer()
_registered: list[Materializer] = []


def register_materializer(materializer: Materializer) -> None:
    """Add a materializer; it is tried before the built-ins (latest registered first).

    Register it in the module that defines your steps, so every worker has it too.
    """
    if not isinstance(materializer, Materializer):
        raise InvalidInputError(
            f"{materializer!r} is not a materializer: it needs name, extension, accepts(), "
            "save() and load()"
        )
    _registered[:] = [m for m in _registered if m.name != materializer.name]
    _registered.insert(0, materializer)


def unregister_materializer(name: str) -> None:
    """Remove a materializer added with :func:`register_materializer`."""
    _registered[:] = [m for m in _registered if m.name != name]


def get_materializer(name: str) -> Materializer:
    """The materializer called ``name``."""
    for materializer in (*_registered, *_BUILTIN, _PICKLE):
        if materializer.name == name:
            return materializer
    known = [m.name for m in (*_registered, *_BUILTIN, _PICKLE)]
    raise NotFoundError(
        "materializer",
        name,
        choices=known,
        hint=f"known: {', '.join(known)}; register custom ones with register_materializer()",
    )


def choose_materializer(
    value: Any, *, step: str, output: str, allow_pickle: bool, forced: str | None = None
) -> Materializer:
    """The materializer for ``value``; :class:`InvalidInputError` when none accepts it."""
    if forced is not None:
        chosen = get_materializer(forced)
        if chosen.name == "pickle" or chosen.accepts(value):
            return chosen
        raise InvalidInputError(
            f"step '{step}' output '{output}' is a {type_name(value)}, which materializer "
            f"'{forced}' does not accept"
        )
    for materializer in (*_registered, *_BUILTIN):
        if materializer.accepts(value):
            return materializer
    if allow_pickle:
        return _PICKLE
    raise InvalidInputError(
        f"step '{step}' returned output '{output}' of type {type_name(value)}, which no "
        "materializer stores; return a DataFrame, an array or JSON-able data, register a "
        "materializer with loopml.pipelines.register_materializer(), or allow pickle with "
        "@step(allow_pickle=True)",
        details={"step": step, "output": output, "type": type_name(value)},
    )


def type_name(value: Any) -> str:
    """``module.Class`` of ``value`` (just ``Class`` for builtins)."""
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
