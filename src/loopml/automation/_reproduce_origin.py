"""What made a model version: its pipeline run, commit, data versions, pins and metrics.

A version records the run that logged its package (``model_versions.run_id``). When that
run is a step of a pipeline run, the pipeline run recorded everything a re-run needs:
where to import the pipeline from (``entrypoint``), its parameters and executor; its
tracked run recorded the environment (git commit and dirty flag, Python, packages) and
the working directory; its steps' lineage edges name the dataset versions they read.

Example:
    >>> origin = find_origin(settings, "models:/churn/3")  # doctest: +SKIP
    >>> origin.commit, origin.dataset_versions  # doctest: +SKIP
    ('4b825dc6…', {'customers': 2})
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from loopml.artifacts import ArtifactStore
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.pipelines import records
from loopml.pipelines.models import PipelineRunInfo
from loopml.registry.client import RegistryClient
from loopml.registry.models import ModelVersion
from loopml.store import open_store
from loopml.store.schema import (
    artifact_files,
    environments,
    experiments,
    latest_metrics,
    lineage_edges,
    pipeline_runs,
    runs,
    step_runs,
    tags,
)
from loopml.uris import node_uri, strip_scheme

__all__ = ["PIPELINE_LEVEL", "MetricKey", "Origin", "find_origin", "read_metrics"]

PIPELINE_LEVEL = ""  # the step name of metrics logged on the pipeline run itself
MetricKey = tuple[str, str]  # (step node, metric key)


@dataclass(frozen=True)
class Origin:
    """Everything recorded about how a version was made."""

    version: ModelVersion
    pipeline_run: PipelineRunInfo
    node: str | None  # the step whose run logged the package (None: the pipeline run)
    experiment: str
    environment: dict[str, Any]  # the pipeline run's: python, packages, git (may be {})
    cwd: str | None  # the working directory the pipeline ran in
    dataset_versions: dict[str, int]  # the latest each dataset name was read at
    datasets: list[str]  # every dataset version URI the run's steps consumed
    requirements: list[str]  # the package's pinned requirements (model.json)
    package_python: str | None  # the Python version the package was saved with
    metrics: dict[MetricKey, float] = field(default_factory=dict)

    @property
    def git(self) -> dict[str, Any]:
        return dict(self.environment.get("git") or {})

    @property
    def commit(self) -> str | None:
        return self.git.get("commit")

    @property
    def dirty(self) -> bool:
        return bool(self.git.get("dirty"))

    @property
    def python(self) -> str | None:
        return (self.environment.get("python") or {}).get("version")

    @property
    def packages(self) -> dict[str, str]:
        return dict(self.environment.get("packages") or {})


def find_origin(settings: Settings, uri: str) -> Origin:
    """What made the version ``uri`` names (``models:/name/N`` or ``models:/name@alias``).

    Raises:
        NotFoundError: no such model, version or alias.
        InvalidInputError: the version was not made by a step of a loopml pipeline run,
            or its pipeline cannot be imported again.
    """
    version = RegistryClient(settings).resolve(uri)
    if version.run_id is None:
        raise InvalidInputError(
            f"{version.uri} was registered from a package folder, not from a run, so "
            "nothing recorded how it was made; only versions made by a loopml pipeline "
            "can be re-run (a pipeline run records its code's entrypoint, parameters, "
            "commit and data versions)"
        )
    store = open_store(settings.db_url)
    with store.read() as conn:
        pipeline_run_id, node = _pipeline_run_of(conn, version)
        info = records.get_pipeline_run(conn, pipeline_run_id)
        if not info.entrypoint:
            raise InvalidInputError(
                f"{version.uri} was made by pipeline run {info.id}, whose pipeline was "
                "defined where it cannot be imported again (inside a function or an "
                "interactive session); define it in a module of the repository"
            )
        environment = environment_of(conn, info.id)
        run_ids = _run_ids(info)
        datasets = _datasets(conn, run_ids)
        manifest_digest = _manifest_digest(conn, version)
        experiment = _experiment(conn, info.id)
        cwd = _tag(conn, info.id, "loopml.source.cwd")
        metrics = read_metrics(conn, info)
    manifest = _manifest(settings, manifest_digest)
    return Origin(
        version=version,
        pipeline_run=info,
        node=node,
        experiment=experiment,
        environment=environment,
        cwd=cwd,
        dataset_versions=_latest_per_name(datasets),
        datasets=datasets,
        requirements=[str(r) for r in manifest.get("requirements") or []],
        package_python=manifest.get("python_version"),
        metrics=metrics,
    )


def read_metrics(conn: Connection, info: PipelineRunInfo) -> dict[MetricKey, float]:
    """The latest value of every metric of a pipeline run and of each of its steps."""
    owners = {info.id: PIPELINE_LEVEL}
    for node, step in info.steps.items():
        if step.run_id:
            owners.setdefault(step.run_id, node)
    rows = conn.execute(
        select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value)
        .add_columns(latest_metrics.c.is_nan)
        .where(latest_metrics.c.run_id.in_(list(owners)))
    ).all()
    return {
        (owners[row.run_id], row.key): math.nan if row.is_nan else float(row.value) for row in rows
    }


def _pipeline_run_of(conn: Connection, version: ModelVersion) -> tuple[str, str | None]:
    row = conn.execute(
        select(step_runs.c.pipeline_run_id, step_runs.c.node).where(
            step_runs.c.run_id == version.run_id, step_runs.c.cached_from.is_(None)
        )
    ).first()
    if row is not None:
        return str(row.pipeline_run_id), str(row.node)
    own = conn.execute(select(pipeline_runs.c.id).where(pipeline_runs.c.id == version.run_id))
    if own.first() is not None:
        return str(version.run_id), None
    raise InvalidInputError(
        f"{version.uri} was made by run {version.run_id}, which is not a step of a loopml "
        "pipeline run; only versions made by a loopml pipeline can be re-run, because a "
        "plain run records neither how to import its code again nor all the inputs it "
        "read. Make training a @loopml.pipeline, register its version, then reproduce that"
    )


def _run_ids(info: PipelineRunInfo) -> list[str]:
    return [info.id, *{s.run_id for s in info.steps.values() if s.run_id}]


def environment_of(conn: Connection, run_id: str) -> dict[str, Any]:
    """The environment (commit, packages, Python) recorded for run ``run_id``."""
    body = conn.execute(
        select(environments.c.body)
        .join(runs, runs.c.environment_digest == environments.c.digest)
        .where(runs.c.id == run_id)
    ).scalar()
    return dict(body) if isinstance(body, dict) else {}


def _datasets(conn: Connection, run_ids: list[str]) -> list[str]:
    rows = conn.execute(
        select(lineage_edges.c.dst_id).where(
            lineage_edges.c.src_kind == "run",
            lineage_edges.c.src_id.in_(run_ids),
            lineage_edges.c.edge == "consumed",
            lineage_edges.c.dst_kind == "dataset_version",
        )
    ).scalars()
    return sorted({uri for key in rows if (uri := node_uri("dataset_version", key)) is not None})


def _latest_per_name(uris: list[str]) -> dict[str, int]:
    # A step that asked for the latest read the newest version of that name then, so the
    # highest version consumed is the one to pin such an input to.
    pins: dict[str, int] = {}
    for uri in uris:
        name, _, number = strip_scheme(uri, "datasets").rpartition("/")
        if number.isdigit():
            pins[name] = max(pins.get(name, 0), int(number))
    return pins


def _experiment(conn: Connection, run_id: str) -> str:
    return str(
        conn.execute(
            select(experiments.c.name)
            .join(runs, runs.c.experiment_id == experiments.c.id)
            .where(runs.c.id == run_id)
        ).scalar_one()
    )


def _tag(conn: Connection, run_id: str, key: str) -> str | None:
    value = conn.execute(
        select(tags.c.value).where(tags.c.run_id == run_id, tags.c.key == key)
    ).scalar()
    return None if value is None else str(value)


def _manifest_digest(conn: Connection, version: ModelVersion) -> str | None:
    value = conn.execute(
        select(artifact_files.c.digest).where(
            artifact_files.c.owner_kind == "model_version",
            artifact_files.c.owner_id == version.id,
            artifact_files.c.path == "model.json",
        )
    ).scalar()
    return None if value is None else str(value)


def _manifest(settings: Settings, digest: str | None) -> dict[str, Any]:
    if digest is None:
        return {}
    data = json.loads(ArtifactStore.from_url(settings.artifacts_url).get_bytes(digest))
    return data if isinstance(data, dict) else {}
