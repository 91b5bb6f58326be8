"""Validation reports kept with their dataset version: listed newest first, audited, kept
apart from the version's own files."""

from __future__ import annotations

import pandas as pd
import pytest

from loopml.config import Settings
from loopml.data import DatasetClient, infer_schema
from loopml.data.validate import validate
from loopml.errors import InvalidInputError, NotFoundError
from loopml.store.audit import history


@pytest.fixture
def client(settings: Settings) -> DatasetClient:
    return DatasetClient(settings)


def test_reports_are_kept_per_version_newest_first_and_audited(
    client: DatasetClient, settings: Settings
) -> None:
    good = pd.DataFrame({"age": [20, 30, 40], "plan": ["a", "b", "a"]})
    schema = infer_schema(good)
    first = client.log("people", good)
    bad = client.log("people", pd.DataFrame({"age": [20, None, 400], "plan": ["a", "z", "a"]}))
    files_before = client.files(bad.uri)
    passed = client.record_validation(first.uri, validate(first.uri, schema, settings=settings))
    failed = validate(bad.uri, schema, settings=settings)
    kept = client.record_validation("datasets:/people@latest", failed, note="schema in CI")
    again = client.record_validation(bad.uri, failed.to_dict())

    assert passed.passed
    assert passed.uri == "datasets:/people/1"
    assert not kept.passed
    assert kept.uri == "datasets:/people/2"
    assert kept.note == "schema in CI"
    assert [r.id for r in client.list_validations(bad.uri)] == [again.id, kept.id]
    assert [r.id for r in client.list_validations(bad.uri, limit=1)] == [again.id]
    assert [r.id for r in client.list_validations(first.uri)] == [passed.id]
    read = client.list_validations(bad.uri)[1]
    assert read == kept
    checks = {(v["check"], v["column"]) for v in read.report["violations"]}
    assert {("nulls", "age"), ("categories", "plan")} <= checks
    assert read.summary == failed.summary
    # The version's own files are untouched; each keeping is one audit row.
    assert client.files(bad.uri) == files_before
    with client.store.read() as conn:
        rows = history(conn, "dataset_version", "people/2")
    validated = [r for r in rows if r["action"] == "dataset.validated"]
    assert [r["reason"] for r in validated] == ["schema in CI", None]
    assert validated[0]["details"]["passed"] is False


def test_bad_input_is_refused_before_anything_is_kept(client: DatasetClient) -> None:
    version = client.log("tiny", pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidInputError, match="ValidationResult"):
        client.record_validation(version.uri, {"violations": []})
    with pytest.raises(NotFoundError):
        client.record_validation("datasets:/tiny/9", {"passed": True})
    with pytest.raises(NotFoundError):
        client.list_validations("datasets:/nothing/1")
    assert client.list_validations(version.uri) == []
