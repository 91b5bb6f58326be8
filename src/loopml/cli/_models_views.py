"""Rich renderings and JSON of registry objects: models, versions, aliases, approvals.

Example:
    >>> aliases_text({"production": 3, "staging": 4})
    'production=3, staging=4'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.cli._output import cell, format_size, format_time, new_table

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from loopml.registry.models import (
        AliasChange,
        Approval,
        ModelVersion,
        PromotionPolicy,
        RegisteredModel,
    )

__all__ = [
    "STATUS_STYLES",
    "aliases_text",
    "approvals_table",
    "history_table",
    "model_views",
    "models_table",
    "policy_table",
    "to_json",
    "version_about",
    "versions_table",
]

STATUS_STYLES = {
    "registered": "",
    "validated": "cyan",
    "rejected": "red",
    "approved": "blue",
    "deployed": "bold green",
    "archived": "dim",
}


def to_json(value: Any) -> Any:
    """A registry value object (or a list of them) as plain JSON-able data."""
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = dataclasses.asdict(value)
        if "uri" in type(value).__dict__:  # ModelVersion: its URI is handy in scripts
            data["uri"] = value.uri  # type: ignore[attr-defined]
        return data
    return value


def aliases_text(aliases: Mapping[str, int] | Iterable[str]) -> str:
    """``production=3, staging=4`` (or ``production, staging``); ``-`` for none."""
    if isinstance(aliases, Mapping):
        text = ", ".join(f"{alias}={version}" for alias, version in sorted(aliases.items()))
    else:
        text = ", ".join(sorted(aliases))
    return text or "-"


def models_table(models: Sequence[RegisteredModel]) -> Table:
    """One row per registered model."""
    table = new_table("name", "latest", "aliases", "gates", "updated", "description")
    for model in models:
        table.add_row(
            cell(model.name, "bold"),
            cell("-" if model.latest_version is None else model.latest_version, "cyan"),
            cell(aliases_text(model.aliases)),
            cell(len(model.policy.gates) or "-"),
            cell(format_time(model.updated_at)),
            cell(model.description or ""),
        )
    return table


def model_views(model: RegisteredModel, versions: Sequence[ModelVersion]) -> list[RenderableType]:
    """A model's attributes, its promotion policy and its versions."""
    about = _pairs_table(
        f"model {model.name}",
        [
            ("description", model.description or "-"),
            ("tags", _tags(model.tags)),
            ("aliases", aliases_text(model.aliases)),
            ("created", f"{format_time(model.created_at)} by {model.created_by or '-'}"),
            ("updated", format_time(model.updated_at)),
        ],
    )
    return [about, policy_table(model.policy), versions_table(model.name, versions)]


def versions_table(name: str, versions: Sequence[ModelVersion]) -> RenderableType:
    """One row per version, newest first."""
    if not versions:
        return cell(
            f"no versions yet; register one with `loopml models register SOURCE {name}`", "dim"
        )
    table = new_table(
        "version", "status", "aliases", "flavor", "size", "run", "created", "by",
        title=f"versions of {name}",
    )  # fmt: skip
    for v in sorted(versions, key=lambda item: item.version, reverse=True):
        table.add_row(
            cell(v.version, "cyan"),
            cell(v.status, STATUS_STYLES.get(v.status, "")),
            cell(aliases_text(v.aliases)),
            cell(v.flavor),
            cell(format_size(v.size_bytes)),
            cell(v.run_id or "-"),
            cell(format_time(v.created_at)),
            cell(v.created_by or "-"),
        )
    return table


def version_about(version: ModelVersion) -> Table:
    """One version's attributes."""
    return _pairs_table(
        version.uri,
        [
            ("status", f"{version.status} (since {format_time(version.status_changed_at)})"),
            ("aliases", aliases_text(version.aliases)),
            ("flavor", version.flavor),
            ("size", format_size(version.size_bytes)),
            ("package digest", version.package_digest),
            ("source", version.source),
            ("run", version.run_id or "-"),
            ("description", version.description or "-"),
            ("tags", _tags(version.tags)),
            ("created", f"{format_time(version.created_at)} by {version.created_by or '-'}"),
        ],
    )


def policy_table(policy: PromotionPolicy) -> Table:
    """The promotion policy: gates, approval, approver role, protected aliases."""
    gates = "\n".join(policy.gates) or "none"
    return _pairs_table(
        "promotion policy",
        [
            ("gates", gates),
            ("approval", "required" if policy.require_approval else "not required"),
            ("approver role", policy.approver_role or "anyone"),
            ("protected aliases", ", ".join(policy.protected_aliases) or "none"),
        ],
    )


def history_table(changes: Sequence[AliasChange], title: str) -> Table:
    """Alias moves, oldest first: when, alias, from -> to, who, why."""
    table = new_table("when", "alias", "move", "by", "reason", title=title)
    for change in changes:
        before = "-" if change.previous_version is None else f"v{change.previous_version}"
        after = "removed" if change.version is None else f"v{change.version}"
        table.add_row(
            cell(format_time(change.at)),
            cell(change.alias, "bold"),
            cell(f"{before} -> {after}", "red" if change.version is None else "cyan"),
            cell(change.actor),
            cell(change.reason or ""),
        )
    return table


def approvals_table(approvals: Sequence[Approval]) -> Table:
    """Approvals and rejections, oldest first."""
    table = new_table("when", "decision", "by", "role", "comment", title="approvals")
    for item in approvals:
        style = "green" if item.decision == "approved" else "red"
        table.add_row(
            cell(format_time(item.at)),
            cell(item.decision, style),
            cell(item.actor),
            cell(item.role or "-"),
            cell(item.comment or ""),
        )
    return table


def _pairs_table(title: str, pairs: Sequence[tuple[str, object]]) -> Table:
    table = new_table("", "", title=title)
    table.show_header = False
    for label, value in pairs:
        table.add_row(cell(label, "bold"), cell(value))
    return table


def _tags(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"
