"""What registering records for each trigger: its baseline, and a webhook's token.

Two phases, so no ``git`` command runs inside a database transaction:
:func:`check_triggers` validates the list and reads git before it;
:func:`record_baselines` reads datasets and the previous registration inside it.

Example:
    >>> from loopml.pipelines.triggers import on_dataset
    >>> triggers, warnings = check_triggers([on_dataset("iris"), on_dataset("iris")], [])
    >>> triggers, warnings
    ([DatasetTrigger(dataset='iris', latest_version=None, watch_source=False)], [])
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from loopml.errors import InvalidInputError
from loopml.pipelines import _git
from loopml.pipelines.triggers import (
    DatasetTrigger,
    GitTrigger,
    Trigger,
    WebhookTrigger,
    hash_token,
)
from loopml.store.schema import dataset_versions, datasets

__all__ = ["check_triggers", "record_baselines"]

_KINDS = (DatasetTrigger, WebhookTrigger, GitTrigger)


def check_triggers(
    triggers: Sequence[Any], source_files: Sequence[Path]
) -> tuple[list[Trigger], list[str]]:
    """Triggers without duplicates, git ones resolved to their repository and ids.

    Args:
        triggers: what the caller passed.
        source_files: the pipeline's own file first, then its steps' (a git trigger's
            default paths).
    """
    unique: list[Trigger] = []
    for trigger in triggers:
        if not isinstance(trigger, _KINDS):
            raise InvalidInputError(
                f"{trigger!r} is not a trigger; make triggers with on_dataset(name), "
                "on_webhook() or on_git_change(paths)"
            )
        if trigger not in unique:
            unique.append(trigger)
    for kind in (WebhookTrigger, GitTrigger):
        if sum(isinstance(t, kind) for t in unique) > 1:
            raise InvalidInputError(
                f"a pipeline has at most one {kind.kind} trigger; give it once"
                + (" with every path to watch" if kind is GitTrigger else "")
            )
    warnings: list[str] = []
    resolved: list[Trigger] = []
    for trigger in unique:
        if isinstance(trigger, GitTrigger):
            trigger = _resolve_git(trigger, source_files, warnings)
        resolved.append(trigger)
    return resolved, warnings


def _resolve_git(
    trigger: GitTrigger, source_files: Sequence[Path], warnings: list[str]
) -> GitTrigger:
    if trigger.paths:
        # A registered trigger's paths are relative to its repository, others to the cwd.
        base = Path(trigger.repository) if trigger.repository else Path.cwd()
        wanted = [(base / Path(p).expanduser()).absolute() for p in trigger.paths]
        for path in wanted:
            if not path.exists():
                raise InvalidInputError(f"on_git_change: {path} does not exist")
        root = _git.repository_root(wanted[0])
        paths = [_relative(path, root) for path in wanted]
    else:
        if not source_files:
            raise InvalidInputError(
                "the pipeline's source file is unknown; give on_git_change(paths)"
            )
        root = _git.repository_root(source_files[0])
        inside = [f for f in source_files if f.resolve().is_relative_to(root)]
        paths = sorted({_relative(f, root) for f in inside})
    commit = _git.head_commit(root)
    ids = _git.object_ids(root, paths)
    dirty = _git.uncommitted(root, paths)
    if dirty:
        warnings.append(
            f"uncommitted changes in {', '.join(dirty)}: the git trigger compares commits, "
            "so they count only once committed"
        )
    return GitTrigger(
        paths=tuple(paths),
        repository=str(root),
        ref=_git.current_branch(root),
        commit=commit,
        object_ids=ids,
    )


def _relative(path: Path, root: Path) -> str:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise InvalidInputError(
            f"on_git_change: {path} is outside the git repository {root}; watch paths of "
            "one repository"
        )
    return resolved.relative_to(root).as_posix() or "."


def record_baselines(
    conn: Connection, triggers: Sequence[Trigger], previous: Sequence[Trigger]
) -> tuple[list[Trigger], str | None, list[str]]:
    """The triggers with their baselines, a new webhook token (or ``None``), and warnings.

    A webhook keeps the previous registration's token digest unless it asks for a new one.
    """
    recorded: list[Trigger] = []
    token: str | None = None
    warnings: list[str] = []
    for trigger in triggers:
        if isinstance(trigger, DatasetTrigger):
            latest = _latest_version(conn, trigger.dataset)
            if latest is None:
                warnings.append(
                    f"dataset '{trigger.dataset}' has no versions yet; the trigger fires on "
                    "its first one"
                )
            trigger = replace(trigger, latest_version=latest)
        elif isinstance(trigger, WebhookTrigger):
            kept = next((t for t in previous if isinstance(t, WebhookTrigger)), None)
            if kept is not None and kept.token_sha256 and not trigger.new_token:
                trigger = WebhookTrigger(kept.token_sha256)
            else:
                token = secrets.token_urlsafe(32)
                trigger = WebhookTrigger(hash_token(token))
        recorded.append(trigger)
    return recorded, token, warnings


def _latest_version(conn: Connection, name: str) -> int | None:
    query = (
        select(func.max(dataset_versions.c.version))
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where(datasets.c.name == name)
    )
    latest = conn.execute(query).scalar()
    return None if latest is None else int(latest)
