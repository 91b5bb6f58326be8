"""Datasets over REST: datasets, their versions, files, schema, profile, diffs, validation.

A version is named in a path by its number or ``latest``; a diff's sides by a number of
the same dataset or a full ``datasets:/other/3`` URI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, quote
from loopml.server.api import PAGING, Api, Call, Param
from loopml.server.routes._common import listing
from loopml.uris import dataset_uri, is_uri

if TYPE_CHECKING:
    from loopml.data import Dataset, DatasetVersion

__all__ = ["api"]

api = Api("/api/v1", tag="data")

VERSION = "/datasets/{name}/versions/{version}"


@api.get("/datasets", summary="Datasets by name, with version counts", params=PAGING)
def list_datasets(call: Call) -> dict[str, Any]:
    page = call.ctx.datasets.page_datasets(limit=call.limit(), page_token=call.text("page_token"))
    return listing("datasets", page, _plain)


@api.get("/datasets/{name}", summary="One dataset: description, version count, latest version")
def get_dataset(call: Call) -> Any:
    return call.ctx.datasets.get_dataset(call.path["name"]).to_dict()


@api.get("/datasets/{name}/versions", summary="A dataset's versions, oldest first", params=PAGING)
def list_versions(call: Call) -> dict[str, Any]:
    page = call.ctx.datasets.page_versions(
        call.path["name"], limit=call.limit(), page_token=call.text("page_token")
    )
    return listing("versions", page, _plain)


@api.get(VERSION, summary="One version (a number or 'latest') with its schema and profile")
def get_version(call: Call) -> Any:
    return _version(call).to_dict()


@api.get(f"{VERSION}/schema", summary="A table version's schema (null for a folder)")
def get_schema(call: Call) -> dict[str, Any]:
    found = _version(call)
    return {"uri": found.uri, "schema": found.schema}


@api.get(f"{VERSION}/profile", summary="A table version's statistical profile")
def get_profile(call: Call) -> dict[str, Any]:
    found = _version(call)
    return {"uri": found.uri, "profile": found.profile}


@api.get(f"{VERSION}/files", summary="The stored files of a version, by path")
def get_files(call: Call) -> dict[str, Any]:
    found = _version(call)
    files = call.ctx.datasets.files(found.uri)
    return {
        "uri": found.uri,
        "files": [{"path": f.path, "size": f.size, "digest": f.digest} for f in files],
    }


@api.get(
    "/datasets/{name}/diff",
    summary="What changed between two versions: rows, schema, files, column statistics",
    params=(
        Param("a", description="the older version: a number, 'latest' or a datasets:/ URI"),
        Param("b", description="the newer version (default: latest)"),
    ),
)
def diff(call: Call) -> Any:
    name = call.path["name"]
    first = call.text("a")
    if not first:
        raise InvalidInputError(
            "query parameter 'a' is required: the version to compare from, e.g. ?a=1&b=2",
            details={"parameter": "a"},
        )
    found = call.ctx.datasets.diff(_side(name, first), _side(name, call.text("b") or "latest"))
    return found.to_dict()


@api.post(
    f"{VERSION}/validate",
    summary="Validate a table version against a schema (body: schema, reference); with "
    "record: true (an editor), the report is kept with the version (note: what it was "
    "checked against)",
    role="viewer",
)
def validate(call: Call) -> Any:
    from loopml.data import DataSchema
    from loopml.data.validate import validate as check

    found = _version(call)
    if found.kind != "table":
        raise InvalidInputError(f"{found.uri} is a folder of files; only tables are validated")
    schema = DataSchema.from_dict(call.field("schema", dict))
    reference = call.field("reference", default=None)
    if reference is not None:
        reference = _side(found.name, reference)
    record = call.field("record", bool, default=False)
    if record:
        call.require("editor", action="keep a validation report")
    result = check(found.uri, schema, reference=reference, settings=call.ctx.settings)
    if record:
        call.ctx.datasets.record_validation(
            found.uri, result, note=call.field("note", default=None)
        )
    return result.to_dict()


def _plain(item: Dataset | DatasetVersion) -> dict[str, Any]:
    return item.to_dict()


def _version(call: Call) -> DatasetVersion:
    return call.ctx.datasets.get(_side(call.path["name"], call.path["version"]))


def version_uri(name: str, version: str) -> str:
    """The URI of version ``version`` (a number or ``latest``) of dataset ``name``."""
    return _side(name, version)


def _side(name: str, version: str) -> str:
    """The URI of version ``version`` of ``name`` (a number or ``latest``), or a given URI."""
    if is_uri(version, "datasets"):
        return version
    if version == "latest":
        return dataset_uri(name)
    if not version.isdigit() or not 1 <= int(version) < 2**63:
        raise InvalidInputError(
            f"a dataset version is a number from 1, 'latest' or a datasets:/ URI, "
            f"got {quote(version, 40)}",
            details={"version": version[:40]},
        )
    return dataset_uri(name, int(version))
