"""Batch inference: a model over a Parquet file, a CSV file or a dataset version, chunk by chunk.

:func:`predict_batch` reads the input in chunks (pyarrow: Parquet row groups, CSV
blocks), checks each chunk against the model's signature, predicts, and appends the
predictions (and any ``keep`` columns, such as an id) to one Parquet file, in the input's
row order. The file is written beside its final name and renamed into place, so a failed
run leaves no half-written output.

A batch prediction is a tracking run (experiment ``batch-predictions`` by default): its
params name the model version, runtime and input; it consumed the dataset version (when
the input is a ``datasets:/`` URI) and the model version; with ``output_dataset`` the
output is versioned as a dataset the run produced. So ``loopml lineage`` walks from the
input data and the model to the predictions.

Example:
    >>> result = predict_batch("models:/churn@production", "customers.parquet",
    ...                        "scores.parquet", keep=["customer_id"])  # doctest: +SKIP
    >>> result.rows, result.model_uri  # doctest: +SKIP
    (120000, 'models:/churn/3')
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.artifacts import local_target
from loopml.config import Settings
from loopml.errors import InvalidInputError, MissingFileError, UnsafePathError
from loopml.packaging.devices import CPU
from loopml.packaging.loading import LoadedModel, Runtime, check_runtime
from loopml.packaging.signature import ColumnSpec, Signature
from loopml.registry.client import RegistryClient
from loopml.registry.loading import load_model
from loopml.store import open_store
from loopml.store.lineage import add_edge_once
from loopml.uris import is_uri

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["EXPERIMENT", "BatchResult", "predict_batch"]

EXPERIMENT = "batch-predictions"
"""The experiment a batch prediction's run goes to unless another is named."""
DEFAULT_CHUNK = 10_000
_MAX_CHUNK = 10_000_000
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch prediction did.

    Attributes:
        model_uri: the model version that predicted (``models:/churn/3``, an alias resolved).
        input: the input file or ``datasets:/name/N`` (a ``@latest`` resolved).
        output: the Parquet file written.
        rows, chunks: how many rows, in how many chunks.
        run_id: the tracking run that records it (``None`` with ``track=False``).
        output_dataset: ``datasets:/name/N`` of the output, when it was versioned.
        seconds: wall time from first read to the file in place.
    """

    model_uri: str
    input: str
    output: Path
    rows: int
    chunks: int
    runtime: str
    run_id: str | None
    output_dataset: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_uri,
            "input": self.input,
            "output": str(self.output),
            "rows": self.rows,
            "chunks": self.chunks,
            "runtime": self.runtime,
            "run_id": self.run_id,
            "output_dataset": self.output_dataset,
            "seconds": round(self.seconds, 3),
        }


def predict_batch(
    model: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    keep: Sequence[str] = (),
    proba: bool = False,
    runtime: Runtime = "native",
    device: str = CPU,
    settings: Settings | None = None,
    experiment: str = EXPERIMENT,
    output_dataset: str | None = None,
    track: bool = True,
    progress: Progress | None = None,
) -> BatchResult:
    """Predict with ``model`` on every row of ``input``; write the predictions to ``output``.

    Args:
        model: ``models:/name@alias``, ``models:/name/N``, ``runs:/id/path`` or a folder.
        input: a ``.parquet`` or ``.csv`` file, or ``datasets:/name/N`` / ``@latest``.
        output: the Parquet file to write (replaced if it exists; never the input).
        chunk_size: rows per model call (1 - 10,000,000).
        keep: input columns copied into the output before the predictions (ids).
        proba: also write class probabilities, one ``proba_<class>`` column per class
            (the model must have ``predict_proba``).
        runtime, device: see :func:`loopml.registry.loading.load_model`.
        settings: the store; default :meth:`Settings.load`.
        experiment: the experiment of the run that records the prediction.
        output_dataset: version the output as this dataset (produced by the run).
        track: record a tracking run (and lineage) at all.
        progress: called with ``(rows done, total rows or None)`` after each chunk.

    Returns:
        A :class:`BatchResult`.

    Raises:
        InvalidInputError: a bad chunk size, input format, output name or ``keep``
            column; input missing a column the signature needs (named, with the
            signature's columns).
        MissingFileError: the input file does not exist.
        UnsafePathError: the output is a symbolic link, the input itself, or inside
            loopml's home.
        NotFoundError: no such model, version, alias or dataset.
    """
    settings = settings or Settings.load()
    check_runtime(runtime, device)
    chunk = _check_chunk(chunk_size)
    target = _check_output(Path(output), settings)
    _check_input(input)  # before the model is loaded: a typo fails at once
    started = time.perf_counter()
    model_uri, loaded = _load(model, settings, runtime, device)
    if proba and not callable(getattr(loaded, "predict_proba", None)):
        raise InvalidInputError(
            f"{model_uri} gives no class probabilities ({loaded.manifest.model_class}); "
            "leave out --proba"
        )
    with _input_file(input, settings) as (path, label, dataset):
        if path.resolve() == target.resolve():
            raise UnsafePathError(f"the output {target} is the input; write somewhere else")
        run_id = None
        if track:
            run_id = _start_run(settings, experiment, model_uri, label, runtime, chunk)
        try:
            rows, chunks = _write(loaded, path, target, chunk, list(keep), proba, progress)
            versioned = _record(settings, run_id, model_uri, dataset, target, output_dataset)
        except BaseException:
            _end_run(settings, run_id, "failed")
            raise
    seconds = time.perf_counter() - started
    if run_id is not None:
        _finish_run(settings, run_id, rows, seconds)
    return BatchResult(model_uri, label, target, rows, chunks, runtime, run_id, versioned, seconds)


def _check_chunk(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= _MAX_CHUNK:
        raise InvalidInputError(
            f"chunk size must be a whole number from 1 to {_MAX_CHUNK:,}, got {size!r}"
        )
    return size


def _check_output(path: Path, settings: Settings) -> Path:
    if path.suffix.lower() != ".parquet":
        raise InvalidInputError(
            f"the output {path} must be a .parquet file (predictions are written as Parquet)"
        )
    folder = path.expanduser().absolute().parent
    if folder.resolve().is_relative_to(settings.home.expanduser().resolve()):
        raise UnsafePathError(
            f"the output {path} is inside loopml's home ({settings.home}); write it "
            "elsewhere (version it with --output-dataset to keep it in the store)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return local_target(folder, path.name)  # refuses a symbolic link planted at the name


def _load(model: str, settings: Settings, runtime: Runtime, device: str) -> tuple[str, Any]:
    uri = model
    if is_uri(model, "models"):
        uri = RegistryClient(settings).resolve(model).uri  # pin the alias once, up front
    return uri, load_model(uri, settings=settings, runtime=runtime, device=device)


def _check_input(source: str | os.PathLike[str]) -> None:
    text = os.fspath(source)
    if is_uri(text, "datasets"):
        return
    path = Path(text).expanduser()
    if not path.is_file():
        raise MissingFileError("input file", text, hint="give a .parquet or .csv file")
    if _format(path) is None:
        raise InvalidInputError(
            f"cannot read {path}: give a .parquet or .csv file, or datasets:/NAME@latest"
        )


class _input_file:
    """The input as a local file: itself, or a dataset version downloaded to a temp folder."""

    def __init__(self, source: str | os.PathLike[str], settings: Settings) -> None:
        self.source, self.settings = source, settings
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> tuple[Path, str, Any]:
        text = os.fspath(self.source)
        if is_uri(text, "datasets"):
            from loopml.data.versions import DatasetClient

            client = DatasetClient(self.settings)
            version = client.get(text)
            if version.kind == "files":
                raise InvalidInputError(
                    f"{version.uri} is a folder of files; batch prediction reads a table "
                    "(a Parquet or CSV dataset)"
                )
            self._scratch = tempfile.TemporaryDirectory(prefix="loopml-batch-")
            return client.download(version.uri, self._scratch.name), version.uri, version
        _check_input(text)
        path = Path(text).expanduser()
        return path, str(path), None

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()


def _format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2")):
        return "csv"
    return None


def _chunks(path: Path, size: int) -> tuple[Iterator[pa.RecordBatch], int | None]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if _format(path) == "parquet":
        file = pq.ParquetFile(path)
        return file.iter_batches(batch_size=size), file.metadata.num_rows
    return _rebatch(pacsv.open_csv(path), size), None


def _rebatch(batches: Any, size: int) -> Iterator[pa.RecordBatch]:
    """CSV blocks cut into batches of exactly ``size`` rows (the last one shorter)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield from table.slice(0, size).to_batches(max_chunksize=size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def _write(
    loaded: LoadedModel,
    path: Path,
    target: Path,
    size: int,
    keep: list[str],
    proba: bool,
    progress: Progress | None,
) -> tuple[int, int]:
    import pyarrow.parquet as pq

    batches, total = _chunks(path, size)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    partial = Path(name)
    writer: pq.ParquetWriter | None = None
    rows = chunks = 0
    try:
        for batch in batches:
            table = _predict_chunk(loaded, batch, keep, proba, first=chunks == 0)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows, chunks = rows + batch.num_rows, chunks + 1
            if progress is not None:
                progress(rows, total)
        if writer is None:  # no rows at all: an empty file with the input's columns
            raise InvalidInputError(f"{path} has no rows to predict on")
        writer.close()
        writer = None
        os.replace(partial, target)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return rows, chunks


def _predict_chunk(
    loaded: LoadedModel, batch: pa.RecordBatch, keep: list[str], proba: bool, *, first: bool
) -> pa.Table:
    import pyarrow as pa

    if first:
        _check_columns(loaded, batch.schema.names, keep)
    data = _model_input(loaded.signature, batch, keep)
    out = loaded.predict(data)
    outputs = _output_columns(out)
    if proba:
        outputs.update(_proba_columns(loaded, loaded.predict_proba(data)))
    clash = [name for name in keep if name in outputs]
    if clash:
        raise InvalidInputError(
            f"--keep {', '.join(clash)} would be overwritten by the model's output column of "
            "that name; rename the input column first"
        )
    return pa.table({**{name: batch.column(name) for name in keep}, **outputs})


def _proba_columns(loaded: LoadedModel, values: Any) -> dict[str, Any]:
    """``proba_<class>`` per class (by label when the model names its classes)."""
    import numpy as np

    table = np.asarray(values)
    labels = getattr(loaded.model, "classes_", None)
    if labels is None or len(labels) != table.shape[1]:
        labels = range(table.shape[1])
    return {f"proba_{label}": table[:, i] for i, label in enumerate(np.asarray(labels).tolist())}


def _check_columns(loaded: LoadedModel, present: list[str], keep: list[str]) -> None:
    missing_keep = [name for name in keep if name not in present]
    if missing_keep:
        raise InvalidInputError(
            f"--keep names columns the input does not have: {', '.join(missing_keep)}; "
            f"its columns: {', '.join(present)}"
        )
    signature = loaded.signature
    names = signature.input_names if signature is not None else None
    if names is None:
        return
    missing = [name for name in names if name not in present]
    if missing:
        raise InvalidInputError(
            f"the input lacks column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} that {loaded.uri} needs; its signature takes "
            f"{', '.join(names)}"
        )


def _model_input(signature: Signature | None, batch: pa.RecordBatch, keep: list[str]) -> Any:
    """A chunk as the model takes it: a frame for table signatures, else a numpy matrix."""
    import numpy as np

    inputs = signature.inputs if signature is not None else None
    if isinstance(inputs, tuple) and inputs and isinstance(inputs[0], ColumnSpec):
        return batch.select([spec.name for spec in inputs]).to_pandas()
    if isinstance(inputs, tuple):  # named tensors: one array per column
        return {spec.name: batch.column(str(spec.name)).to_numpy() for spec in inputs}
    features = [name for name in batch.schema.names if name not in keep]
    arrays = [batch.column(name).to_numpy(zero_copy_only=False) for name in features]
    return np.column_stack(arrays)  # the signature check casts it, or names what is wrong


def _output_columns(out: Any) -> dict[str, Any]:
    import numpy as np

    if isinstance(out, dict):
        merged: dict[str, Any] = {}
        for key, values in out.items():
            merged.update(
                {
                    f"{key}{name[len('prediction') :]}": v
                    for name, v in _output_columns(values).items()
                }
            )
        return merged
    if hasattr(out, "to_numpy"):  # a pandas Series or DataFrame from a pyfunc model
        out = out.to_numpy()
    values = np.asarray(out)
    if values.ndim <= 1:
        return {"prediction": values.reshape(-1)}
    flat = values.reshape(values.shape[0], -1)
    return {f"prediction_{i}": flat[:, i] for i in range(flat.shape[1])}


def _start_run(
    settings: Settings, experiment: str, model: str, input: str, runtime: str, chunk: int
) -> str:
    from loopml.tracking import TrackingClient

    client = TrackingClient(settings, capture_env=False)
    try:
        params = {"model": model, "input": input, "runtime": runtime, "chunk_size": chunk}
        return client.create_run(
            experiment, tags={"loopml.kind": "batch-prediction"}, params=params
        ).id
    finally:
        client.close()


def _record(
    settings: Settings,
    run_id: str | None,
    model_uri: str,
    dataset: Any,
    target: Path,
    output_dataset: str | None,
) -> str | None:
    if run_id is None:
        return None
    from loopml.data.versions import DatasetClient
    from loopml.uris import parse_uri

    data = DatasetClient(settings)
    if dataset is not None:
        data.log_input(dataset, run_id, context="batch-inference")
    uri = parse_uri(model_uri)
    if uri.scheme == "models" and uri.version is not None:
        node = ("model_version", f"{uri.name}/{uri.version}")
        open_store(settings.db_url).transact(
            lambda conn: add_edge_once(conn, ("run", run_id), "consumed", node, {"uri": model_uri})
        )
    if output_dataset is None:
        return None
    return data.log(output_dataset, target, run_id=run_id, role="output").uri


def _finish_run(settings: Settings, run_id: str, rows: int, seconds: float) -> None:
    from loopml.tracking import TrackingClient

    client = TrackingClient(settings, capture_env=False)
    try:
        metrics = {"rows": rows, "seconds": seconds, "rows_per_second": rows / max(seconds, 1e-9)}
        client.log_metrics(run_id, metrics)
        client.end_run(run_id, "finished")
    finally:
        client.close()


def _end_run(settings: Settings, run_id: str | None, status: str) -> None:
    if run_id is None:
        return
    from loopml.tracking import TrackingClient

    client = TrackingClient(settings, capture_env=False)
    try:
        client.end_run(run_id, status)
    finally:
        client.close()
