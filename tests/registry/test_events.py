"""Registry events: one per change, in order, paged by cursor, filtered by model and kind."""

from __future__ import annotations

import pytest
from _registry_packages import LogPackage

from loopml.errors import InvalidInputError
from loopml.registry.client import RegistryClient
from loopml.registry.events import KINDS
from loopml.store.schema import audit_log


def _story(registry: RegistryClient, log_package: LogPackage) -> None:
    """A model's life touching every kind of change."""
    registry.create_model("churn")
    registry.update_model("churn", description="who leaves")
    registry.register(log_package(), "churn")
    registry.update_version("churn", 1, tags={"data": "march"})
    registry.save_evaluation(
        {"model_uri": "models:/churn/1", "data": "d", "target": "y", "task": "classification",
         "metrics": {"accuracy": 0.9}, "gates": [{"expression": "accuracy >= 0.8",
         "passed": True}], "passed": True}
    )  # fmt: skip
    registry.grant_role("ana", "ml-lead")
    registry.set_policy("churn", {"approver_role": "ml-lead"})
    registry.approve("churn", 1, actor="ana")
    registry.set_alias("churn", "staging", 1)
    registry.promote("churn", 1)
    registry.remove_alias("churn", "staging")
    registry.revoke_role("ana", "ml-lead")
    registry.register(log_package(), "fraud")
    registry.reject("fraud", 1, comment="leaks the label")
    registry.set_status("fraud", 1, "archived")


STORY = [
    ("model.created", "churn", None),
    ("model.updated", "churn", None),
    ("model_version.created", "churn", 1),
    ("model_version.updated", "churn", 1),
    ("model_version.evaluated", "churn", 1),
    ("role.granted", "", None),
    ("policy.updated", "churn", None),
    ("model_version.approved", "churn", 1),
    ("alias.set", "churn", 1),
    ("model_version.promoted", "churn", 1),
    ("alias.removed", "churn", 1),
    ("role.revoked", "", None),
    ("model.created", "fraud", None),
    ("model_version.created", "fraud", 1),
    ("model_version.rejected", "fraud", 1),
    ("model_version.status_changed", "fraud", 1),
]


def test_every_change_is_one_event_in_order_covering_every_kind(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _story(registry, log_package)
    got = registry.list_events(limit=1000)
    assert [(e.kind, e.model, e.version) for e in got] == STORY
    # A copy between environments needs a second store: tests/registry/test_copy.py.
    copies = {"model_version.copied_in", "model_version.copied_out"}
    assert {kind for kind, _, _ in STORY} == KINDS - copies
    ids = [e.id for e in got]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(e.actor for e in got)
    assert got[0].to_dict()["kind"] == "model.created"


def test_every_event_has_its_audit_row(registry: RegistryClient, log_package: LogPackage) -> None:
    _story(registry, log_package)
    with registry.store.read() as conn:
        actions = conn.execute(audit_log.select().order_by(audit_log.c.id)).mappings().all()
    assert [row["action"] for row in actions] == [kind for kind, _, _ in STORY]
    assert actions[-1]["object_kind"] == "model_version"
    assert actions[-1]["object_id"] == "fraud/1"


def test_paging_by_cursor_sees_each_event_once(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _story(registry, log_package)
    seen, cursor = [], 0
    while page := registry.list_events(after=cursor, limit=3):
        assert len(page) <= 3
        seen += page
        cursor = page[-1].id
    assert seen == registry.list_events(limit=1000)
    assert registry.list_events(after=cursor) == []


def test_events_filter_by_model_and_kind(registry: RegistryClient, log_package: LogPackage) -> None:
    _story(registry, log_package)
    fraud = registry.list_events(model="fraud")
    assert [e.kind for e in fraud] == [
        "model.created",
        "model_version.created",
        "model_version.rejected",
        "model_version.status_changed",
    ]
    created = registry.list_events(kinds=["model_version.created"])
    assert [e.model for e in created] == ["churn", "fraud"]
    assert registry.list_events(kinds="alias.set", model="churn")[0].payload == {
        "alias": "staging",
        "previous_version": None,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"kinds": ["alias.moved"]},
            r"unknown event kind\(s\) 'alias.moved'; kinds: alias.removed",
        ),
        ({"limit": 0}, "limit must be between 1 and 1000"),
        ({"limit": 5000}, "limit must be between 1 and 1000"),
        ({"after": -1}, "after must be an event id"),
    ],
)
def test_bad_event_queries_say_what_is_allowed(
    registry: RegistryClient, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        registry.list_events(**arguments)  # type: ignore[arg-type]
