"""Reproduce a model version: re-run the pipeline that made it, compare the metrics.

:func:`reproduce` finds what made the version (its pipeline run: entrypoint, parameters,
executor; the recorded git commit and dirty flag; the dataset versions its steps read;
the package's pinned requirements), checks the commit out into a temporary folder,
builds a clean virtualenv from the pins (or, with ``reuse_env``, uses the running
interpreter), re-runs the pipeline there against the same store with caching off and the
datasets pinned to the recorded versions, and compares every metric of the new run's
steps with the original's. The new pipeline run is tagged ``loopml.reproduces=<uri>``.

Only versions made by a loopml pipeline can be reproduced: a plain run records neither
how to import its code again nor all the inputs it read.

Example:
    >>> report = reproduce("models:/churn/3", reuse_env=True)  # doctest: +SKIP
    >>> report.matched, [(m.metric, m.delta) for m in report.metrics]  # doctest: +SKIP
    (True, [('accuracy', 0.0)])
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from loopml.automation._reproduce_build import (
    LOOPML_PACKAGE,
    build_virtualenv,
    check_out,
    clean_environment,
    remove_checkout,
)
from loopml.automation._reproduce_compare import (
    EnvironmentDiff,
    MetricComparison,
    compare_metrics,
    diff_environments,
)
from loopml.automation._reproduce_origin import (
    Origin,
    environment_of,
    find_origin,
    read_metrics,
)
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.pipelines import records
from loopml.store import open_store
from loopml.store.schema import model_versions
from loopml.tracking import TrackingClient
from loopml.uris import model_uri

__all__ = [
    "DEFAULT_TOLERANCE",
    "REPRODUCES_TAG",
    "EnvironmentDiff",
    "MetricComparison",
    "ReproductionReport",
    "reproduce",
]

DEFAULT_TOLERANCE = 1e-6
REPRODUCES_TAG = "loopml.reproduces"
Status = Literal["matched", "differs", "failed"]
_TAIL = 3_000


@dataclass
class ReproductionReport:
    """The outcome of :func:`reproduce`.

    Attributes:
        uri: the version reproduced (``models:/name/N``).
        original_run: the pipeline run that made it.
        reproduced_run: the new pipeline run (``None`` if it could not start).
        status: ``matched`` (every metric within the tolerance), ``differs``, or
            ``failed`` (the re-run failed; ``error`` says how).
        tolerance: see :func:`reproduce`.
        commit: the commit checked out; ``dirty``: whether the original run had
            uncommitted changes (the re-run has only the committed code).
        datasets: the dataset versions the original run read (and the re-run was given).
        environment: ``virtualenv`` or ``current`` (``reuse_env``).
        metrics: one comparison per step and metric.
        environment_diff: how the environments differ (``None`` if the re-run recorded none).
        registered: versions the re-run registered (its pipeline registers what it trains).
        warnings: what may make the metrics differ, noticed before running.
        error: why the re-run failed.
        kept: the folder with the checkout (and virtualenv), when kept.
    """

    uri: str
    original_run: str
    reproduced_run: str | None
    status: Status
    tolerance: float
    commit: str
    dirty: bool
    datasets: list[str]
    environment: str
    metrics: list[MetricComparison] = field(default_factory=list)
    environment_diff: EnvironmentDiff | None = None
    registered: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    kept: str | None = None

    @property
    def matched(self) -> bool:
        """Whether every metric was reproduced within the tolerance."""
        return self.status == "matched"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "uri": self.uri,
            "matched": self.matched,
            "status": self.status,
            "original_run": self.original_run,
            "reproduced_run": self.reproduced_run,
            "tolerance": self.tolerance,
            "commit": self.commit,
            "dirty": self.dirty,
            "datasets": self.datasets,
            "environment": self.environment,
            "metrics": [m.to_dict() for m in self.metrics],
            "environment_diff": self.environment_diff.to_dict() if self.environment_diff else None,
            "registered": self.registered,
            "warnings": self.warnings,
            "error": self.error,
            "kept": self.kept,
        }


def reproduce(
    uri: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    reuse_env: bool = False,
    keep: bool = False,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReproductionReport:
    """Re-run the pipeline that made a model version and compare its metrics.

    Args:
        uri: ``models:/name/N`` or ``models:/name@alias``.
        tolerance: a metric matches when ``|reproduced - original| <= tolerance *
            max(1, |original|)`` (absolute up to magnitude 1, relative above); ``0``
            asks for equality. The default, ``1e-6``, lets through only the noise of
            floating-point summation order.
        reuse_env: run in the running interpreter's environment instead of a clean
            virtualenv built from the pinned requirements (fast; for checks and tests).
        keep: keep the checkout (and virtualenv) folder; its path is in ``kept``.
        settings: the store (default :meth:`Settings.load`); the re-run uses it too.
        progress: called with a line for each long step (checkout, pip, the run).

    Returns:
        The report; ``report.matched`` says whether every metric was reproduced.

    Raises:
        NotFoundError: no such version; the recorded repository or commit is missing.
        InvalidInputError: the version was not made by a loopml pipeline run, its run
            recorded no git commit or no metrics, or ``tolerance`` is negative.
        LoopmlError: the virtualenv could not be built (pip's output says why).

    Example:
        >>> reproduce("models:/churn@production", tolerance=1e-3).status  # doctest: +SKIP
        'matched'
    """
    if not tolerance >= 0 or math.isinf(tolerance):
        raise InvalidInputError(
            f"tolerance must be a finite number >= 0, got {tolerance!r}; 0 asks for equality"
        )
    settings = settings or Settings.load()
    say = progress or (lambda _line: None)
    origin = find_origin(settings, uri)
    repository = _check_reproducible(origin)
    warnings = _warnings(origin, reuse_env)
    for line in warnings:
        say(f"warning: {line}")
    folder = Path(tempfile.mkdtemp(prefix="loopml-reproduce-"))
    checkout = folder / "source"
    try:
        say(f"checking out {origin.commit} of {repository} into {checkout}")
        check_out(repository, str(origin.commit), checkout)
        try:
            python = _python(origin, folder, reuse_env, say)
            report = _run_and_compare(origin, settings, repository, checkout, python, say)
        finally:
            if not keep:
                remove_checkout(repository, checkout)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    report.tolerance = tolerance
    report.metrics = compare_metrics(
        origin.metrics, _reproduced_metrics(settings, report), tolerance
    )
    if report.status != "failed":
        report.status = "matched" if all(m.ok for m in report.metrics) else "differs"
    report.environment = "current" if reuse_env else "virtualenv"
    report.warnings = warnings + report.warnings
    report.kept = str(folder) if keep else None
    return report


def _check_reproducible(origin: Origin) -> Path:
    run = origin.pipeline_run.id
    if not origin.commit or not origin.git.get("root"):
        raise InvalidInputError(
            f"{origin.version.uri} was made by pipeline run {run}, which recorded no git "
            "commit (it ran outside a git repository, or without git installed), so its "
            "code cannot be checked out again; run pipelines from a git repository"
        )
    if not origin.metrics:
        raise InvalidInputError(
            f"pipeline run {run} (which made {origin.version.uri}) logged no metrics, so a "
            "re-run has nothing to be compared on; log them in its steps with "
            "loopml.log_metric"
        )
    return Path(str(origin.git["root"]))


def _warnings(origin: Origin, reuse_env: bool) -> list[str]:
    found = []
    if origin.dirty:
        found.append(
            f"pipeline run {origin.pipeline_run.id} ran with uncommitted changes; the "
            f"re-run has only commit {origin.commit}, so its metrics may differ"
        )
    python = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not reuse_env and origin.python and origin.python != python:
        found.append(
            f"the original run used Python {origin.python}; the virtualenv is built "
            f"with this Python, {python}"
        )
    if origin.pipeline_run.executor != _executor(origin):
        found.append(
            f"the original ran on executor {origin.pipeline_run.executor}; the re-run "
            "runs on local (the results of steps do not depend on where they run)"
        )
    return found


def _executor(origin: Origin) -> str:
    recorded = origin.pipeline_run.executor
    return recorded if recorded == "local" or recorded.startswith("process") else "local"


def _python(origin: Origin, folder: Path, reuse_env: bool, say: Callable[[str], None]) -> str:
    if reuse_env:
        say(f"running in the current environment ({sys.executable})")
        return sys.executable
    return str(build_virtualenv(folder / "venv", origin.requirements, origin.packages, say))


def _run_and_compare(
    origin: Origin,
    settings: Settings,
    repository: Path,
    checkout: Path,
    python: str,
    say: Callable[[str], None],
) -> ReproductionReport:
    entrypoint, cwd = _in_checkout(origin, repository, checkout)
    request = {
        "entrypoint": entrypoint,
        "params": origin.pipeline_run.params,
        "executor": _executor(origin),
        "experiment": origin.experiment,
        "run_name": f"reproduce-{origin.version.model}-v{origin.version.version}",
        "tags": {
            REPRODUCES_TAG: origin.version.uri,
            f"{REPRODUCES_TAG}.run": origin.pipeline_run.id,
        },
        "dataset_versions": origin.dataset_versions,
        "settings": {
            "home": str(settings.home),
            "db_url": settings.db_url,
            "artifacts_url": settings.artifacts_url,
        },
    }
    work = checkout.parent
    (work / "request.json").write_text(json.dumps(request))
    result_file = work / "result.json"
    say(f"running {origin.pipeline_run.pipeline} ({entrypoint}) with caching off")
    done = subprocess.run(
        [python, "-m", "loopml.automation._reproduce_child", str(work / "request.json"),
         str(result_file)],
        cwd=cwd, env=_child_environment(python), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = ReproductionReport(
        uri=origin.version.uri,
        original_run=origin.pipeline_run.id,
        reproduced_run=None,
        status="failed",
        tolerance=DEFAULT_TOLERANCE,
        commit=str(origin.commit),
        dirty=origin.dirty,
        datasets=origin.datasets,
        environment="",
    )
    if done.returncode != 0 or not result_file.is_file():
        report.error = (
            f"the re-run exited with {done.returncode}; its output ends:\n"
            + (done.stdout + done.stderr).strip()[-_TAIL:]
        )
        return report
    result = json.loads(result_file.read_text())
    report.reproduced_run = str(result["run_id"])
    if result["status"] == "finished":
        report.status = "differs"  # judged on the metrics by the caller
    else:
        report.error = (
            f"the re-run ended {result['status']}; see `loopml pipeline show "
            f"{report.reproduced_run}`"
        )
    report.environment_diff = diff_environments(
        origin.environment, _environment(settings, report.reproduced_run)
    )
    report.registered = _registered(settings, report.reproduced_run)
    if report.registered:
        report.warnings.append(
            "the re-run registered " + ", ".join(report.registered) + " (its pipeline "
            "registers what it trains); archive them if they are not wanted"
        )
    return report


def _in_checkout(origin: Origin, repository: Path, checkout: Path) -> tuple[str, Path]:
    """The entrypoint and working directory of the original run, moved into the checkout."""
    entrypoint = str(origin.pipeline_run.entrypoint)
    cwd = _moved(origin.cwd, repository, checkout) if origin.cwd else None
    location, _, name = entrypoint.rpartition(":")
    if location.endswith(".py") or "/" in location:
        moved = _moved(location, repository, checkout)
        if moved is None:
            raise InvalidInputError(
                f"pipeline run {origin.pipeline_run.id} ran {entrypoint}, which is outside "
                f"the repository it recorded ({repository}); keep the pipeline's code in "
                "the repository"
            )
        entrypoint = f"{moved}:{name}"
    return entrypoint, cwd if cwd is not None and cwd.is_dir() else checkout


def _moved(path: str, repository: Path, checkout: Path) -> Path | None:
    for candidate in (Path(path), Path(path).resolve()):
        for root in (repository, repository.resolve()):
            if candidate.is_relative_to(root):
                return checkout / candidate.relative_to(root)
    return None


def _child_environment(python: str) -> dict[str, str]:
    if python != sys.executable:
        return clean_environment()  # the virtualenv has loopml and the pins installed
    # The current interpreter: the child must import this very loopml.
    here = str(LOOPML_PACKAGE.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _environment(settings: Settings, run_id: str) -> dict[str, Any]:
    with open_store(settings.db_url).read() as conn:
        return environment_of(conn, run_id)


def _reproduced_metrics(settings: Settings, report: ReproductionReport) -> dict[Any, float]:
    if report.reproduced_run is None:
        return {}
    tracking = TrackingClient(settings, capture_env=False)
    try:
        tracking.flush()  # ingest what the re-run's process left in its journal
    finally:
        tracking.close()
    with open_store(settings.db_url).read() as conn:
        info = records.get_pipeline_run(conn, report.reproduced_run)
        return read_metrics(conn, info)


def _registered(settings: Settings, pipeline_run_id: str) -> list[str]:
    with open_store(settings.db_url).read() as conn:
        info = records.get_pipeline_run(conn, pipeline_run_id)
        ids = [pipeline_run_id, *{s.run_id for s in info.steps.values() if s.run_id}]
        rows = conn.execute(
            select(model_versions.c.model, model_versions.c.version)
            .where(model_versions.c.run_id.in_(ids))
            .order_by(model_versions.c.model, model_versions.c.version)
        ).all()
    return [model_uri(row.model, int(row.version)) for row in rows]
