"""Dataset versions tied to the active run: ``loopml.log_dataset`` and ``loopml.load_dataset``.

Inside ``with loopml.start_run():`` a logged or loaded dataset version becomes an input
of the run (or an output, with ``role="output"``): a lineage edge the run and the data
can both be traced through.

Example:
    >>> import loopml
    >>> with loopml.start_run(experiment="churn"):  # doctest: +SKIP
    ...     version = loopml.log_dataset("churn-train", frame)
    ...     same = loopml.load_dataset(version.uri)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from loopml._remote import is_remote
from loopml._sdk._shared import SharedClient, shared_http
from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError
from loopml.tracking.fluent import active_run

if TYPE_CHECKING:
    from loopml.data.models import DatasetVersion

__all__ = ["dataset_client", "dataset_client_for", "load_dataset", "log_dataset", "log_input"]


def dataset_client_for(settings: Settings) -> DatasetClient:
    """The dataset client for ``settings``: the server's when ``tracking_uri`` names one
    (``http://…``, token in ``LOOPML_TRACKING_TOKEN``), else one on the local store."""
    if is_remote(settings.tracking_uri):
        from loopml.data.remote import RemoteDatasetClient

        # The fluent API's client talks to the same server: share its connection (it is
        # closed with that client, at exit or when the settings change).
        http = shared_http(settings)
        return RemoteDatasetClient(settings, http=http)  # type: ignore[return-value]
    return DatasetClient(settings)


_shared = SharedClient(dataset_client_for, remote_ok=True)


def dataset_client() -> DatasetClient:
    """A dataset client on the same settings as the fluent tracking API (the server's when
    ``LOOPML_TRACKING_URI`` names one)."""
    return _shared.get()


def log_dataset(
    name: str,
    source: Any,
    *,
    description: str | None = None,
    role: Literal["input", "output"] = "input",
    encoding: str | None = None,
) -> DatasetVersion:
    """Version ``source`` (a DataFrame, Arrow table, Parquet/CSV file or folder) as ``name``.

    The same content gives the same version back. Inside an active run the version is
    recorded as the run's input (``role="output"``: as something the run produced).
    ``encoding`` reads a CSV file that is not UTF-8 (``"latin-1"``).
    """
    run = active_run()
    return dataset_client().log(
        name,
        source,
        description=description,
        run_id=run.id if run else None,
        role=role,
        encoding=encoding,
    )


def load_dataset(uri: str, *, as_arrow: bool = False, dest: str | Path | None = None) -> Any:
    """The exact data of ``datasets:/name/3`` or ``datasets:/name@latest`` (verified).

    A table comes back as a pandas DataFrame (``as_arrow=True``: a pyarrow Table), a
    folder as the local Path it was written to. Inside an active run the version is
    recorded as the run's input.
    """
    run = active_run()
    return dataset_client().load(uri, as_arrow=as_arrow, dest=dest, run_id=run.id if run else None)


def log_input(dataset: DatasetVersion | str, context: str = "training") -> DatasetVersion:
    """Record that the active run consumed a dataset version, and what for.

    The run gets a ``consumed`` edge to the version in the lineage graph (so
    ``loopml lineage runs:/<id>`` shows it) and lists it in ``Run.inputs``. Logging the
    same version in another context adds another input; the same context again is a no-op.

    Args:
        dataset: a :class:`~loopml.data.models.DatasetVersion` (as ``log_dataset``
            returns) or ``datasets:/name/3`` / ``datasets:/name@latest`` (the version it
            names now is the one recorded).
        context: ``training``, ``validation``, ``test``, ``evaluation``… (default
            ``training``).

    Returns:
        The dataset version recorded.

    Raises:
        InvalidInputError: no active run, or a bad dataset or context.
        NotFoundError: no such dataset or version.

    Example:
        >>> with loopml.start_run() as run:  # doctest: +SKIP
        ...     loopml.log_input("datasets:/iris/2", context="training")
        >>> loopml.get_run(run.id).inputs[0].uri  # doctest: +SKIP
        'datasets:/iris/2'
    """
    run = active_run()
    if run is None:
        raise InvalidInputError("no active run; wrap the code in `with loopml.start_run():` first")
    return dataset_client().log_input(dataset, run.id, context)
