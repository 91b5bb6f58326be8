"""evaluate() resolves a ``models:/`` URI once and passes the version down.

A listener on the store's engine sees every SQL statement one evaluate call sends; the
candidate's alias and version rows are read once on the way in (the package, the policy
gates and the stored result all use that version), and once more only inside the save's
own write transaction, under the model's lock, where the status move must see the status
as committed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import event

from loopml.config import Settings
from loopml.evaluation import evaluate
from loopml.registry.client import RegistryClient
from loopml.store import open_store

from .conftest import FEATURES, Cancer, Register

QUICK = {"infra_check": False}
_FROM = re.compile(r"\bFROM\s+(model_versions|model_aliases)\b", re.IGNORECASE)


class Statements:
    """The SELECTs against model_versions / model_aliases, with their parameters."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    def record(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        match = _FROM.search(statement)
        if statement.lstrip().upper().startswith("SELECT") and match:
            self.seen.append((match[1], statement, params))

    def naming(self, table: str, *values: object) -> list[str]:
        """The statements on ``table`` whose parameters hold every one of ``values``."""
        found = []
        for name, statement, params in self.seen:
            given = list(params.values()) if isinstance(params, dict) else list(params or ())
            if name == table and all(value in given for value in values):
                found.append(statement)
        return found


@pytest.fixture
def statements(settings: Settings) -> Iterator[Statements]:
    engine = open_store(settings.db_url).engine
    seen = Statements()
    event.listen(engine, "before_cursor_execute", seen.record)
    yield seen
    event.remove(engine, "before_cursor_execute", seen.record)


def test_one_evaluate_call_looks_the_candidate_up_once(
    settings: Settings,
    registry: RegistryClient,
    register: Register,
    cancer: Cancer,
    statements: Statements,
) -> None:
    model = LogisticRegression(max_iter=5000).fit(cancer.X, cancer.y)
    first = register(model, cancer.X.head(5))
    holdout = cancer.holdout[[*FEATURES, "target"]]
    evaluate(
        first.uri, holdout, "target", gates=["rows >= 1"], settings=settings, infra_check=False
    )
    registry.promote("cancer", 1)
    candidate = register(model, cancer.X.head(5))
    registry.set_alias("cancer", "candidate", candidate.version)
    statements.seen.clear()

    result = evaluate(
        "models:/cancer@candidate",
        holdout,
        "target",
        gates=["f1 >= champion - 0.5"],
        settings=settings,
        **QUICK,
    )

    assert (result.version, result.champion and result.champion.version) == (2, 1)
    assert result.status == "validated"
    seen = statements.seen
    # The candidate: the alias resolved to its row once, on the way in...
    assert len(statements.naming("model_versions", "cancer", "candidate")) == 1, seen
    # ...and its row read by number only by the save, under its lock (loading the
    # package, the policy gates and the status after the save use the resolved version).
    assert len(statements.naming("model_versions", "cancer", 2)) == 1, seen
    # The champion: resolved once from its alias, never looked up again to load it.
    assert len(statements.naming("model_versions", "cancer", "production")) == 1, seen
    assert statements.naming("model_versions", "cancer", 1) == [], seen
