"""Tracking against a loopml server: ``LOOPML_TRACKING_URI=http://host:5000``.

:class:`RemoteTrackingClient` answers the calls ``loopml.start_run`` and its run make, over
the server's REST API, so training code runs unchanged on a laptop and logs to a team's
server. Writes (metrics, params, tags, the end of a run) go through a local outbox: they
are journaled on disk first and sent in order, in batches, with idempotency keys, so a
retried batch is never stored twice and nothing is lost while the server is unreachable.
Reads go straight to the server, after the outbox has sent what this client wrote.

Artifact files go up and down as they are logged and read. Files larger than one chunk
(8 MiB; ``LOOPML_ARTIFACTS_CHUNK_MB``) go straight to the artifact store through
presigned URLs when the server's store is S3 and this machine reaches it, else through
the server in chunks; both resume after a dropped connection or a restarted server, from
the offset the server reports. ``LOOPML_ARTIFACTS_DIRECT=0`` keeps every byte going
through the server.

Example:
    >>> import os; os.environ["LOOPML_TRACKING_URI"] = "http://127.0.0.1:5000"  # doctest: +SKIP
    >>> with loopml.start_run("churn") as run:  # doctest: +SKIP
    ...     run.log_metric("auc", 0.91)
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from loopml import _transfer
from loopml._remote import (
    TOKEN_ENV,
    JsonHttp,
    ServerUnreachable,
    error_from,
    is_remote,
    unavailable_call,
)
from loopml.artifacts import local_target
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError, UnsafePathError
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

__all__ = ["CHUNK_ENV", "DIRECT_ENV", "TOKEN_ENV", "RemoteTrackingClient", "is_remote"]

DIRECT_ENV = "LOOPML_ARTIFACTS_DIRECT"  # 0: artifact bytes always go through the server
CHUNK_ENV = "LOOPML_ARTIFACTS_CHUNK_MB"  # files above this go in chunks (or direct)
_DEFAULT_CHUNK_MB = 8
_API = "/api/v1"
_READ_WAIT_S = 5.0  # how long a read waits for this client's writes to reach the server
_CLOSE_WAIT_S = 10.0


class RemoteTrackingClient:
    """The tracking calls of :class:`~loopml.tracking.TrackingClient`, against a server.

    Args:
        settings: ``settings.tracking_uri`` is the server; the local home keeps the outbox.
        token: the API token (default ``$LOOPML_TRACKING_TOKEN``).
        chunk_bytes: artifact files larger than this are sent in chunks of this size, or
            straight to the store (default ``$LOOPML_ARTIFACTS_CHUNK_MB`` MiB, else 8 MiB).
        direct: whether to use presigned URLs to the artifact store when the server offers
            them (default: yes unless ``$LOOPML_ARTIFACTS_DIRECT`` is ``0``).
        resume_wait_s: how long an artifact transfer waits for an unreachable server
            before giving up (it resumes where it stopped when the server answers).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        token: str | None = None,
        chunk_bytes: int | None = None,
        direct: bool | None = None,
        resume_wait_s: float = 60.0,
    ) -> None:
        if not is_remote(settings.tracking_uri):
            raise InvalidInputError(
                f"tracking URI {settings.tracking_uri!r} is not a server URL; use http://HOST:PORT"
            )
        self.settings = settings
        self.url = settings.tracking_uri.rstrip("/")
        token = token or os.environ.get(TOKEN_ENV)
        self.http = JsonHttp(self.url, token)
        self.run_artifacts = _RemoteArtifacts(
            self,
            token,
            chunk_bytes=chunk_bytes or _chunk_from_env(),
            direct=_direct_from_env() if direct is None else direct,
            resume_wait_s=resume_wait_s,
        )
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
        """Upload one file as ``<artifact_path>/<its name>`` (resumable when large)."""
        source = Path(local_path)
        if source.is_symlink():
            raise UnsafePathError(f"'{source}' is a symlink; log the file it points to instead")
        if not source.is_file():
            raise InvalidInputError(f"{source} is not a file; log a folder with log_artifacts")
        target = f"{artifact_path.strip('/')}/{source.name}".lstrip("/")
        return self.run_artifacts.log_file(run_id, source, target)

    def log_artifacts(
        self, run_id: str, local_dir: str | Path, artifact_path: str = ""
    ) -> list[str]:
        folder = Path(local_dir)
        if folder.is_symlink():
            raise UnsafePathError(f"'{folder}' is a symlink; log the folder it points to")
        files = sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
        links = [p for p in files if p.is_symlink()]
        if links:  # refused before anything is sent
            raise UnsafePathError(
                f"'{links[0]}' is a symlink; copy the file it points to into the folder instead"
            )
        stored = []
        for path in files:
            relative = path.relative_to(folder).parent.as_posix()
            base = "/".join(x for x in (artifact_path.strip("/"), relative) if x and x != ".")
            stored.append(self.log_artifact(run_id, path, base))
        return stored

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | Path | None = None
    ) -> Path:
        """Download a file or folder of the run to ``dst_path`` (default: the current
        folder), verified; returns the local path. Large files resume with ``Range``."""
        return self.run_artifacts.download(run_id, path, Path(dst_path) if dst_path else None)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """The files and folders directly inside ``path`` of the run."""
        return self.run_artifacts.list(run_id, path)

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
    """Run artifacts moved to and from the server, or the store behind it (presigned)."""

    def __init__(
        self,
        client: RemoteTrackingClient,
        token: str | None,
        *,
        chunk_bytes: int,
        direct: bool,
        resume_wait_s: float,
    ) -> None:
        if chunk_bytes < 1:
            raise InvalidInputError(f"chunk_bytes must be 1 or more, got {chunk_bytes}")
        self.client = client
        self.http = client.http
        self.chunk_bytes = chunk_bytes
        self.direct = direct  # turned off once the store says no or cannot be reached
        self.resume_wait_s = resume_wait_s
        self._auth = {"authorization": f"Bearer {token}"} if token else {}

    # -- uploads -----------------------------------------------------------------------

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> str:
        self.http.request(
            "PUT",
            f"{_API}/runs/{_q(run_id)}/artifacts/{_qpath(artifact_path)}",
            raw=data,
            headers={"content-type": "application/octet-stream"},
        )
        return artifact_path

    def log_file(self, run_id: str, source: Path, artifact_path: str) -> str:
        """Upload ``source``: in one request when small, else straight to the store when
        it can, else through the server in chunks; the latter two resume."""
        size = source.stat().st_size
        if size <= self.chunk_bytes:
            return self.log_bytes(run_id, source.read_bytes(), artifact_path)
        digest = _transfer.sha256_of(source)
        if self.direct and self._upload_direct(run_id, source, artifact_path, digest, size):
            return artifact_path
        return self._upload_staged(run_id, source, artifact_path, digest, size)

    def _upload_direct(self, run_id: str, source: Path, path: str, digest: str, size: int) -> bool:
        body = {"path": path, "method": "PUT", "sha256": digest, "size": size}
        try:
            grant = self._retry(
                lambda: self.http.request(
                    "POST", f"{_API}/runs/{_q(run_id)}/artifacts/presign", body
                )
            )
        except ConflictError as err:
            if err.details.get("direct") is False:
                self.direct = False  # the server's store is not one clients can reach
                return False
            raise
        try:
            _transfer.retrying(
                lambda: _transfer.put_file(grant["url"], source, grant["headers"]),
                min(self.resume_wait_s, 2.0),
                errors=(_transfer.Unreachable,),
            )
        except (_transfer.Unreachable, _transfer.TransferError):
            # This machine cannot reach the store (or a proxy on the way mangles the
            # signed request): send the files through the server from now on.
            self.direct = False
            self._abandon(run_id, grant["upload_id"])
            return False
        self._complete(run_id, grant["upload_id"], path, digest, size)
        return True

    def _upload_staged(self, run_id: str, source: Path, path: str, digest: str, size: int) -> str:
        base = f"{_API}/runs/{_q(run_id)}/artifact-uploads"
        upload = self._retry(lambda: self.http.request("POST", base, {"path": path, "size": size}))
        url = f"{base}/{upload['upload_id']}"
        chunk = max(1, min(self.chunk_bytes, int(upload["chunk_limit"])))
        offset = 0
        with source.open("rb") as stream:
            while offset < size:
                stream.seek(offset)
                offset = self._send_chunk(url, offset, stream.read(chunk))
        self._complete(run_id, upload["upload_id"], path, digest, size)
        return path

    def _send_chunk(self, url: str, offset: int, data: bytes) -> int:
        """Send one chunk at ``offset``; the offset the server holds afterwards (after an
        outage, the one it reports: the chunk may or may not have landed)."""
        try:
            reply = self.http.request(
                "PUT",
                url,
                query={"offset": offset},
                raw=data,
                headers={"content-type": "application/octet-stream"},
            )
        except ConflictError as err:
            if "offset" not in err.details:
                raise
            return int(err.details["offset"])
        except ServerUnreachable:
            return int(self._retry(lambda: self.http.request("GET", url))["offset"])
        return int(reply["offset"])

    def _complete(self, run_id: str, upload_id: str, path: str, digest: str, size: int) -> None:
        url = f"{_API}/runs/{_q(run_id)}/artifact-uploads/{upload_id}/complete"
        body = {"sha256": digest, "size": size}
        try:
            self._retry(lambda: self.http.request("POST", url, body))
        except NotFoundError:
            # A retry after a lost reply finds the upload gone: the first one committed it.
            if self._stored_digest(run_id, path) != digest:
                raise

    def _abandon(self, run_id: str, upload_id: str) -> None:
        with contextlib.suppress(ServerUnreachable, NotFoundError):  # else it expires
            self.http.request("DELETE", f"{_API}/runs/{_q(run_id)}/artifact-uploads/{upload_id}")

    # -- downloads ---------------------------------------------------------------------

    def list(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        found = self.http.request(
            "GET", f"{_API}/runs/{_q(run_id)}/artifacts", query={"path": path or None}
        )
        return [ArtifactEntry(**entry) for entry in found["artifacts"]]

    def read_bytes(self, run_id: str, path: str) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            return self.download(run_id, path, Path(folder) / "file").read_bytes()

    def download(self, run_id: str, path: str = "", dest: Path | None = None) -> Path:
        """A file or folder of the run, written under ``dest`` (verified, resumable)."""
        dest = (dest or Path.cwd()).absolute()
        prefix = path.strip("/")
        files = self._files(run_id, prefix)
        if len(files) == 1 and files[0].path == prefix:  # one file
            target = local_target(dest, prefix.rpartition("/")[2]) if dest.is_dir() else dest
            self._download_file(run_id, files[0], target)
            return target
        name = prefix.rpartition("/")[2]
        cut = len(prefix) + 1 if prefix else 0
        jobs = [
            (f, local_target(dest, f"{name}/{f.path[cut:]}" if name else f.path)) for f in files
        ]
        for entry, target in jobs:  # every path is checked (local_target) before any write
            self._download_file(run_id, entry, target)
        return dest / name if name else dest

    def _files(self, run_id: str, prefix: str) -> builtins.list[ArtifactEntry]:
        parent = prefix.rpartition("/")[0]
        if prefix:
            try:
                here = {e.path: e for e in self.list(run_id, parent)}
            except NotFoundError:
                here = {}
            if prefix in here and not here[prefix].is_dir:
                return [here[prefix]]
        found: builtins.list[ArtifactEntry] = []
        folders = [prefix]
        while folders:
            for entry in self.list(run_id, folders.pop()):
                if entry.is_dir:
                    folders.append(entry.path)
                else:
                    found.append(entry)
        return sorted(found, key=lambda e: e.path)

    def _download_file(self, run_id: str, entry: ArtifactEntry, target: Path) -> None:
        assert entry.digest is not None
        assert entry.size is not None
        if self.direct and entry.size > self.chunk_bytes:
            try:
                grant = self.http.request(
                    "POST",
                    f"{_API}/runs/{_q(run_id)}/artifacts/presign",
                    {"path": entry.path, "method": "GET"},
                )
            except ConflictError as err:
                if err.details.get("direct") is not False:
                    raise
                self.direct = False
            else:
                try:
                    _transfer.download(grant["url"], target, sha256=entry.digest, size=entry.size)
                    return
                except (_transfer.Unreachable, _transfer.TransferError):
                    self.direct = False  # the .part file keeps what came; the server sends the rest
        url = self.http.url + f"{_API}/runs/{_q(run_id)}/artifacts/{_qpath(entry.path)}"
        try:
            _transfer.retrying(
                lambda: _transfer.download(
                    url, target, sha256=entry.digest or "", size=entry.size or 0, headers=self._auth
                ),
                self.resume_wait_s,
                errors=(_transfer.Unreachable,),
            )
        except _transfer.TransferError as err:
            raise error_from(err.status, err.body) from err

    def _stored_digest(self, run_id: str, path: str) -> str | None:
        try:
            found = self.list(run_id, path.rpartition("/")[0])
        except NotFoundError:
            return None
        return next((e.digest for e in found if e.path == path), None)

    def _retry(self, attempt: Callable[[], Any]) -> Any:
        return _transfer.retrying(attempt, self.resume_wait_s, errors=(ServerUnreachable,))


def _chunk_from_env() -> int:
    raw = os.environ.get(CHUNK_ENV, "").strip()
    try:
        megabytes = float(raw) if raw else _DEFAULT_CHUNK_MB
    except ValueError as err:
        raise InvalidInputError(f"{CHUNK_ENV}={raw!r} is not a number of MiB, e.g. 8") from err
    if megabytes <= 0:
        raise InvalidInputError(f"{CHUNK_ENV} must be more than 0, got {raw!r}")
    return max(1, int(megabytes * 1024 * 1024))


def _direct_from_env() -> bool:
    return os.environ.get(DIRECT_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _qpath(path: str) -> str:
    return "/".join(_q(part) for part in path.split("/"))


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
