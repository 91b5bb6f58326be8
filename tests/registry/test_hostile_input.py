"""Hostile names and records given to the registry, on SQLite and PostgreSQL: a name with a
NUL or another control character is refused before any query (PostgreSQL cannot hold NUL
in text), and a malformed evaluation is refused saying what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _registry_packages import LogPackage

from loopml.errors import InvalidInputError, NotFoundError
from loopml.registry.client import RegistryClient

HOSTILE = ["\x00", "churn\x00", "a\x01b", "line\nbreak", "tab\t", "del\x7f", "c1\x80"]

LOOKUPS: dict[str, Callable[[RegistryClient, str], Any]] = {
    "get_model": lambda registry, name: registry.get_model(name),
    "get_version": lambda registry, name: registry.get_version(name, 1),
    "list_versions": lambda registry, name: registry.list_versions(name),
    "page_versions": lambda registry, name: registry.page_versions(name),
    "update_model": lambda registry, name: registry.update_model(name, description="x"),
    "set_alias": lambda registry, name: registry.set_alias(name, "production", 1),
    "remove_alias": lambda registry, name: registry.remove_alias(name, "production"),
    "list_alias_changes": lambda registry, name: registry.list_alias_changes(name),
    "alias_at": lambda registry, name: registry.alias_at(name, "production", 1),
    "get_policy": lambda registry, name: registry.get_policy(name),
    "list_approvals": lambda registry, name: registry.list_approvals(name, 1),
    "promotion_blockers": lambda registry, name: registry.promotion_blockers(name, 1),
    "list_evaluations": lambda registry, name: registry.list_evaluations(name, 1),
    "list_events": lambda registry, name: registry.list_events(model=name),
    "create_model": lambda registry, name: registry.create_model(name),
}


@pytest.mark.parametrize("call", sorted(LOOKUPS))
def test_a_model_name_with_control_characters_is_invalid_input(
    registry: RegistryClient, log_package: LogPackage, call: str
) -> None:
    registry.register(log_package(), "churn")
    for name in HOSTILE:
        with pytest.raises(InvalidInputError, match=r"model name .* is not valid"):
            LOOKUPS[call](registry, name)
    assert registry.get_model("churn").name == "churn"  # the store still answers


def test_a_printable_name_no_model_can_have_is_simply_not_found(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    registry.register(log_package(), "churn")
    for name in ["<script>alert(1)</script>", "no such model", "é"]:
        with pytest.raises(NotFoundError):
            registry.get_model(name)
        with pytest.raises(NotFoundError):
            registry.get_version(name, 1)


def _record(**extra: object) -> dict[str, object]:
    return {
        "model_uri": "models:/churn/1",
        "data": "datasets:/churn/1",
        "target": "left",
        "task": "classification",
        "metrics": {"accuracy": 0.9},
        **extra,
    }


@pytest.mark.parametrize(
    ("slices", "problem"),
    [
        (["region"], "slices must be a mapping"),
        ("region", "slices must be a mapping"),
        ({"region": ["eu", "us"]}, "slice 'region' must map"),
        ({"region": {"eu": 0.9}}, "slice 'region' group 'eu' must map"),
        ({"region": {"eu": {"accuracy": "high"}}}, "slice 'region' group 'eu' metric 'accuracy'"),
        ({"region": {"eu": {"accuracy": [0.9]}}}, "slice 'region' group 'eu' metric 'accuracy'"),
    ],
)
def test_malformed_slices_are_refused_naming_the_problem(
    registry: RegistryClient, log_package: LogPackage, slices: object, problem: str
) -> None:
    registry.register(log_package(), "churn")
    with pytest.raises(InvalidInputError, match=problem):
        registry.save_evaluation(_record(slices=slices))
    assert registry.list_evaluations("churn", 1) == []
    good = {"region": {"eu": {"rows": 3.0, "accuracy": 0.9, "auc": None}}}
    saved = registry.save_evaluation(_record(slices=good))
    assert registry.get_evaluation(saved)["slices"] == good
