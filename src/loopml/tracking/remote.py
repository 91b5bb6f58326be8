"""Tracking against a loopml server: ``LOOPML_TRACKING_URI=http://host:5000``.

:class:`RemoteTrackingClient` answers the calls ``loopml.start_run`` and its run make, over
the server's REST API, so training code runs unchanged on a laptop and logs to a team's
server. Writes (metrics, params, tags, the end of a run) go through a local outbox: they
are journaled on disk first and sent in order, in batches, with idempotency keys, so a
retried batch is never stored twice and nothing is lost while the server is unreachable.
Reads go straight to the server, after the outbox has sent what this client wrote.

Example:
    >>> import os; os.environ["LOOPML_TRACKING_URI"] = "http://127.0.0.1:5000"  # doctest: +SKIP
    >>> with loopml.start_run("churn") as run:  # doctest: +SKIP
    ...     run.log_metric("auc", 0.91)
"""

from __future__ import annotations

import atexit
import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from loopml._remote import (
    TOKEN_ENV,
    JsonHttp,
    ServerUnreachable,
    is_remote,
    unavailable_call,
)
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import Page
from loopml.tracking import _validation as check
from loopml.tracking._outbox import Outbox
from loopml.tracking.models import (
    Experiment,
    ExperimentSummary,
    Metric,
    Run,
    RunInput,
    RunStatus,
)
from loopml.tracking.run_artifacts import ArtifactEntry

__all__ = ["TOKEN_ENV", "RemoteTrackingClient", "is_remote"]

_API = "/api/v1"
_READ_WAIT_S = 5.0  # how long a read waits for this client's writes to reach the server
_CLOSE_WAIT_S = 10.0


class RemoteTrackingClient:
    """The tracking calls of :class:`~loopml.tracking.TrackingClient`, against a server.

    Args:
        settings: ``settings.tracking_uri`` is the server; the local home keeps the outbox.
        token: the API token (default ``$LOOPML_TRACKING_TOKEN``).
    """

    def __init__(self, settings: Settings, *, token: str | None = None) -> None:
        if not is_remote(settings.tracking_uri):
            raise InvalidInputError(
                f"tracking URI {settings.tracking_uri!r} is not a server URL; use http://HOST:PORT"
            )
        self.settings = settings
        self.url = settings.tracking_uri.rstrip("/")
        self.http = JsonHttp(self.url, token or os.environ.get(TOKEN_ENV))
        self.run_artifacts = _RemoteArtifacts(self)
        folder = (
            settings.journal_dir / "remote" / hashlib.sha256(self.url.encode()).hexdigest()[:16]
        )
        self.outbox = Outbox(folder, self._send)
        self._closed = False
        # A script that ends without closing still sends what it logged (or leaves it
        # journaled for the next client): the fluent API never closes its client itself.
        atexit.register(self.close)

    # -- experiments -------------------------------------------------------------------

    def create_experiment(self, name: str, description: str | None = None) -> Experiment:
        body = {"name": check.check_name("experiment", name), "description": description}
        return _experiment(self.http.request("POST", f"{_API}/experiments", body))

    def get_experiment(self, name_or_id: str) -> Experiment:
        return _experiment(self.http.request("GET", f"{_API}/experiments/{_q(name_or_id)}"))

    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            return self.get_experiment(name)
        except NotFoundError:
            return self.create_experiment(name)

    def set_experiment_tags(self, experiment: str, values: Mapping[str, Any]) -> Experiment:
        tags = {k: str(v) for k, v in check.mapping("tags", values).items()}
        path = f"{_API}/experiments/{_q(experiment)}/tags"
        return _experiment(self.http.request("PUT", path, {"tags": tags}))

    def search_experiments(
        self, filter: str | None = None, order_by: Any = None, max_results: int = 1000
    ) -> list[Experiment]:
        body = {"filter": filter, "order_by": order_by, "max_results": max_results}
        found = self.http.request("POST", f"{_API}/experiments/search", body)
        return [_experiment(e) for e in found["experiments"]]

    def list_experiments(self) -> list[Experiment]:
        """Every live experiment, oldest first."""
        found: list[Experiment] = []
        token: str | None = None
        while True:
            page = self.list_experiment_summaries(None, "created_at", limit=1000, page_token=token)
            found.extend(item.experiment for item in page.items)
            token = page.next_page_token
            if not token:
                return found

    def list_experiment_summaries(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ExperimentSummary]:
        """One page of live experiments with their run counts (``GET /experiments``)."""
        order = [order_by] if isinstance(order_by, str) else list(order_by or ())
        query = [
            ("filter", filter),
            *(("order_by", item) for item in order),
            ("limit", limit),
            ("page_token", page_token),
        ]
        page = self.http.request("GET", f"{_API}/experiments", query=query)
        return Page(
            [
                ExperimentSummary(_experiment(item), item["runs"], item.get("last_run_start"))
                for item in page["experiments"]
            ],
            page.get("next_page_token"),
        )

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Run:
        """Start a run on the server (this call needs the server: it names the run)."""
        body = {
            "experiment": experiment,
            "name": name,
            "parent_run_id": parent_run_id,
            "tags": {k: str(v) for k, v in (tags or {}).items()} or None,
            "params": {k: str(v) for k, v in (params or {}).items()} or None,
        }
        return _run(self.http.request("POST", f"{_API}/runs", body))

    def get_run(self, run_id: str) -> Run:
        self._settle()
        return _run(self.http.request("GET", f"{_API}/runs/{_q(run_id)}"))

    def end_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Journal the end of the run; it reaches the server after the run's metrics."""
        state = str(status).lower()
        if state not in {"finished", "failed", "killed"}:
            raise InvalidInputError(f"a run ends as finished, failed or killed, not {status!r}")
        self.outbox.append([{"op": "end", "run": run_id, "status": state}])

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Any = None,
        max_results: int = 1000,
        *,
        include_deleted: bool = False,
        **_: Any,
    ) -> list[Run]:
        found: list[Run] = []
        token: str | None = None
        while len(found) < max_results:
            page = self.list_runs(
                experiments,
                filter,
                order_by,
                limit=min(1000, max_results - len(found)),
                page_token=token,
                include_deleted=include_deleted,
            )
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                break
        return found

    def list_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page[Run]:
        """One page of the runs :meth:`search_runs` finds (``POST /runs/search``)."""
        self._settle()
        body = {
            "experiments": [experiments] if isinstance(experiments, str) else experiments,
            "filter": filter,
            "order_by": [order_by] if isinstance(order_by, str) else order_by,
            "limit": limit,
            "page_token": page_token,
            "include_deleted": include_deleted,
        }
        page = self.http.request("POST", f"{_API}/runs/search", body)
        return Page([_run(r) for r in page["runs"]], page.get("next_page_token"))

    def delete_run(self, run_id: str, reason: str | None = None) -> None:
        """Soft-delete a run on the server (after this client's writes reached it)."""
        self._settle()
        self.http.request("DELETE", f"{_API}/runs/{_q(run_id)}", query={"reason": reason})

    # -- params, tags, metrics ---------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        params = {
            check.check_key("param", k): str(v) for k, v in check.mapping("params", values).items()
        }
        self.outbox.append([{"op": "params", "run": run_id, "params": params}])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        tags = {check.check_key("tag", k): str(v) for k, v in check.mapping("tags", values).items()}
        self.outbox.append([{"op": "tags", "run": run_id, "tags": tags}])

    def log_metric(
        self, run_id: str, key: str, value: Any, step: int = 0, timestamp: int | None = None
    ) -> None:
        self.log_batch(run_id, [(key, value, step, now_ms() if timestamp is None else timestamp)])

    def log_metrics(
        self, run_id: str, values: Mapping[str, Any], step: int = 0, timestamp: int | None = None
    ) -> None:
        ts = now_ms() if timestamp is None else check.metric_timestamp(timestamp)
        self.log_batch(
            run_id, [(k, v, step, ts) for k, v in check.mapping("metrics", values).items()]
        )

    def log_batch(self, run_id: str, points: Iterable[tuple[str, Any, int, int]]) -> int:
        entries = [
            {
                "op": "metric",
                "run": run_id,
                "key": check.check_key("metric", key),
                "value": _number(check.metric_value(key, value)),
                "step": check.metric_step(step),
                "timestamp": check.metric_timestamp(ts),
            }
            for key, value, step, ts in points
        ]
        self.outbox.append(entries)
        return len(entries)

    def get_metric_history(
        self, run_id: str, key: str, *, max_points: int | None = None
    ) -> list[Metric]:
        self._settle()
        found = self.http.request(
            "GET",
            f"{_API}/runs/{_q(run_id)}/metrics/history",
            query={"key": key, "max_points": max_points},
        )
        return [
            Metric(p["key"], float(p["value"]), p["step"], p["timestamp"]) for p in found["metrics"]
        ]

    # -- artifacts ---------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str = "") -> str:
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInputError(f"{source} is not a file; log a folder with log_artifacts")
        target = f"{artifact_path.strip('/')}/{source.name}".lstrip("/")
        return self.run_artifacts.log_bytes(run_id, source.read_bytes(), target)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str = ""
    ) -> list[str]:
        folder = Path(local_dir)
        stored = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).parent.as_posix()
            base = "/".join(x for x in (artifact_path.strip("/"), relative) if x and x != ".")
            stored.append(self.log_artifact(run_id, path, base))
        return stored

    # -- lifecycle ---------------------------------------------------------------------

    def flush(self) -> None:
        """Send everything journaled; raise when the server stays unreachable."""
        if not self.outbox.flush(_CLOSE_WAIT_S):
            raise ServerUnreachable(
                f"{self.outbox.pending():,} bytes of writes wait in {self.outbox.journal}: "
                f"{self.outbox.unreachable or 'the server is slow'}; they are sent when it answers"
            )

    def close(self) -> None:
        """Send what is left (waiting up to 10 s), then stop; what could not be sent stays
        journaled and the next client of this server sends it."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        left = self.outbox.close(_CLOSE_WAIT_S)
        if left:
            print(
                f"loopml: {left:,} bytes of run writes could not reach {self.url} yet; they are "
                f"kept in {self.outbox.journal} and sent by the next loopml client of it",
                file=sys.stderr,
            )
        self.http.close()

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        """A :class:`TrackingClient` call with no REST route yet refuses, saying so."""
        from loopml.tracking.client import TrackingClient

        return unavailable_call(self, TrackingClient, name)

    def _settle(self) -> None:
        self.outbox.flush(_READ_WAIT_S)

    def _send(self, key: str, entries: list[dict[str, Any]]) -> int:
        first = entries[0]
        run = _q(str(first["run"]))
        headers = {"idempotency-key": key}
        op = first["op"]
        if op == "metric":
            points = [{k: e[k] for k in ("key", "value", "step", "timestamp")} for e in entries]
            path = f"{_API}/runs/{run}/metrics/batch"
            reply = self.http.request("POST", path, points, headers=headers)
            return int(reply["logged"])  # a replay answers for the first attempt's batch
        if op == "params":
            self.http.request(
                "POST", f"{_API}/runs/{run}/params", {"params": first["params"]}, headers=headers
            )
        elif op == "tags":
            self.http.request(
                "PUT", f"{_API}/runs/{run}/tags", {"tags": first["tags"]}, headers=headers
            )
        elif op == "end":
            self.http.request(
                "PATCH", f"{_API}/runs/{run}", {"status": first["status"]}, headers=headers
            )
        return 1


class _RemoteArtifacts:
    """Run artifacts uploaded through the server, one file per request, and listed."""

    def __init__(self, client: RemoteTrackingClient) -> None:
        self.client = client

    def list(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """The files and folders directly inside ``path`` of a run's artifacts."""
        found = self.client.http.request(
            "GET", f"{_API}/runs/{_q(run_id)}/artifacts", query={"path": path or None}
        )
        return [ArtifactEntry(**entry) for entry in found["artifacts"]]

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> str:
        path = "/".join(_q(part) for part in artifact_path.split("/"))
        self.client.http.request(
            "PUT",
            f"{_API}/runs/{_q(run_id)}/artifacts/{path}",
            raw=data,
            headers={"content-type": "application/octet-stream"},
        )
        return artifact_path


def _q(part: str) -> str:
    return quote(part, safe="")


def _number(value: float) -> Any:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _experiment(data: dict[str, Any]) -> Experiment:
    return Experiment(
        data["id"],
        data["name"],
        data["created_at"],
        data.get("description"),
        dict(data.get("tags") or {}),
    )


def _run(data: dict[str, Any]) -> Run:
    return Run(
        id=data["id"],
        experiment_id=data["experiment_id"],
        name=data["name"],
        status=RunStatus(data["status"]),
        start_time=data["start_time"],
        end_time=data.get("end_time"),
        parent_run_id=data.get("parent_run_id"),
        user=data.get("user"),
        host=data.get("host"),
        deleted_at=data.get("deleted_at"),
        params=dict(data.get("params") or {}),
        metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
        tags=dict(data.get("tags") or {}),
        inputs=tuple(RunInput(**i) for i in data.get("inputs") or ()),
    )
