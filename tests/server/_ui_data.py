"""A store filled for the web UI's tests: runs with metrics, a model with versions, an
evaluation with gates and a version waiting for approval; and a real uvicorn server on it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import loopml
from loopml.config import Settings
from loopml.data import DatasetClient
from loopml.registry import RegistryClient
from loopml.server import AccountService, ServerConfig
from loopml.serving import DeploymentClient
from loopml.store import open_store
from loopml.tracking import TrackingClient

from ._support import live_server as uvicorn_server

EXPERIMENT = "churn-ui"
MODEL = "churn"
DATASET = "churn-data"
HISTORY = 5000  # points of the long metric history (more than any chart draws)


@dataclass
class Filled:
    """What :func:`fill` put in the store."""

    runs: dict[str, str] = field(default_factory=dict)  # run name -> id
    validated: int = 0  # the version waiting for an approval
    production: int = 0  # the version the production alias points at
    pipeline_run: str = ""  # the second run of ui_pipeline: its steps all hit the cache


def _package(folder: Path, payload: bytes) -> Path:
    """A minimal model package (a made-up model file; the registry only checks digests)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, data in {"model.bin": payload, "requirements.txt": b"numpy\n"}.items():
        (folder / name).write_bytes(data)
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {
        "format": 1,
        "flavor": "sklearn",
        "flavor_options": {},
        "model_class": "tests.FakeModel",
        "signature": None,
        "input_example": None,
        "requirements": ["numpy"],
        "python_version": "3.11.0",
        "loopml_version": "0.1.0",
        "source_run": None,
        "created_at": 0,
        "predict_proba": False,
        "files": files,
    }
    (folder / "model.json").write_text(json.dumps(manifest, sort_keys=True))
    return folder


def _evaluate(registry: RegistryClient, version: int, accuracy: float) -> None:
    passed = accuracy >= 0.8
    registry.save_evaluation(
        {
            "model_uri": f"models:/{MODEL}/{version}",
            "data": "datasets:/churn/1",
            "target": "left",
            "task": "classification",
            "metrics": {"accuracy": accuracy},
            "passed": passed,
            "gates": [{"expression": "accuracy >= 0.8", "passed": passed, "skipped": False}],
        }
    )


@loopml.step
def ui_numbers(n: int) -> list[int]:
    return list(range(n))


@loopml.step
def ui_total(values: list[int]) -> int:
    return sum(values)


@loopml.step
def ui_mean(values: list[int], total: int) -> float:
    return total / len(values)


@loopml.pipeline
def ui_pipeline(n: int = 5) -> None:
    values = ui_numbers(n)
    ui_mean(values, ui_total(values))


def fill(settings: Settings, scratch: Path) -> Filled:
    """Three runs (one with a long history), model versions 1 (production) and 2 (validated)."""
    filled = Filled()
    tracking = TrackingClient(settings, capture_env=False)
    try:
        for i, (kind, depth, acc) in enumerate([("rf", 4, 0.91), ("rf", 8, 0.87), ("lr", 1, 0.74)]):
            run = tracking.create_run(EXPERIMENT, name=f"run-{i}")
            tracking.log_params(run.id, {"model": kind, "depth": depth})
            steps = HISTORY if i == 0 else 20
            tracking.log_batch(
                run.id,
                [
                    ("loss", 1.0 / (step + 1) + (0.5 if step == 1234 else 0.0), step, 1000 + step)
                    for step in range(steps)
                ],
            )
            tracking.log_metric(run.id, "accuracy", acc)
            tracking.end_run(run.id)
            filled.runs[run.name] = run.id
        tracking.flush()
    finally:
        tracking.close()
    registry = RegistryClient(settings)
    first = registry.register(_package(scratch / "v1", b"one"), MODEL, description="churn model")
    _evaluate(registry, first.version, 0.86)
    registry.approve(MODEL, first.version, comment="first one")
    registry.promote(MODEL, first.version, reason="the first model")
    second = registry.register(_package(scratch / "v2", b"two"), MODEL)
    _evaluate(registry, second.version, 0.91)
    third = registry.register(_package(scratch / "v3", b"three"), MODEL)
    _evaluate(registry, third.version, 0.5)
    filled.production, filled.validated = first.version, second.version
    datasets = DatasetClient(settings)
    frame = pd.DataFrame({"tenure": [1, 5, 9], "plan": ["a", "b", "a"], "left": [0, 1, 0]})
    datasets.log(DATASET, frame, description="churn training data")
    bigger = pd.concat([frame, frame], ignore_index=True).assign(spend=range(6))
    second_data = datasets.log(DATASET, bigger)
    datasets.log_input(second_data, filled.runs["run-0"], "training")
    ui_pipeline.run({"n": 5}, settings=settings)
    filled.pipeline_run = ui_pipeline.run({"n": 5}, settings=settings).id  # every step cached
    DeploymentClient(settings).create(
        "churn-api", MODEL, {"routes": [{"alias": "production", "weight": 100}]}
    )
    return filled


@dataclass
class LiveServer:
    """A uvicorn server on 127.0.0.1 in a thread, and the accounts of its store."""

    url: str
    settings: Settings
    accounts: AccountService
    filled: Filled

    def token(self, user: str, role: str | None, model_role: tuple[str, str] | None = None) -> str:
        """A token of a new ``user`` with ``role`` on the workspace (and ``(role, scope)``)."""
        self.accounts.create_user(user, role=role)
        if model_role is not None:
            self.accounts.grant(user, *model_role)
        _, secret = self.accounts.create_token(user, "ui test")
        return secret


def live_server(settings: Settings, scratch: Path, auth: str = "tokens") -> Iterator[LiveServer]:
    filled = fill(settings, scratch)
    with uvicorn_server(settings, ServerConfig(auth=auth)) as server:
        accounts = AccountService(open_store(settings.db_url))
        yield LiveServer(server.url, settings, accounts, filled)
