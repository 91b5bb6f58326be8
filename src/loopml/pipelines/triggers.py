"""Triggers: what, besides a cron schedule, starts a registered pipeline.

Each trigger is a frozen value with a JSON form (``to_dict`` and :func:`trigger_from_dict`):

* :func:`on_dataset` fires on a new version of a dataset (which need not exist yet);
* :func:`on_webhook` fires when the pipeline's webhook is called with its secret token.
  Only the token's SHA-256 is stored; the token itself is returned once, as
  ``Registration.webhook_token``, by the registration that made it. Registering
  again keeps it unless ``on_webhook(new_token=True)``;
* :func:`on_git_change` fires on a commit that changes the pipeline's source.

Registering records each trigger's baseline (the dataset's latest version, the git
object ids of the watched paths at the current branch); the automation controller
fires when the world moves past it.

Example:
    >>> on_dataset("iris").to_dict()
    {'kind': 'dataset', 'dataset': 'iris', 'latest_version': None}
    >>> trigger_from_dict({"kind": "dataset", "dataset": "iris", "latest_version": 3})
    DatasetTrigger(dataset='iris', latest_version=3, watch_source=False)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from loopml.data import check_name, parse_target
from loopml.errors import InvalidInputError
from loopml.pipelines import _git

__all__ = [
    "DatasetTrigger",
    "GitTrigger",
    "Trigger",
    "WebhookTrigger",
    "hash_token",
    "on_dataset",
    "on_git_change",
    "on_webhook",
    "trigger_from_dict",
]


@dataclass(frozen=True, slots=True)
class DatasetTrigger:
    """Fires on a version of ``dataset`` after ``latest_version`` (the latest when registered).

    With ``watch_source``, the automation controller also checks, on every pass, the file
    or folder the latest version was logged from; when its content changed, it logs the
    new content as the next version (which then fires the trigger).
    """

    dataset: str
    latest_version: int | None = None
    watch_source: bool = False
    kind: ClassVar[str] = "dataset"

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind, "dataset": self.dataset, "latest_version": self.latest_version}
        if self.watch_source:
            data["watch_source"] = True
        return data

    def describe(self) -> str:
        after = self.latest_version
        return f"dataset {self.dataset} (" + (
            f"after version {after})" if after else "any version)"
        )


@dataclass(frozen=True, slots=True)
class WebhookTrigger:
    """Fires when the webhook is called with the token whose SHA-256 is ``token_sha256``."""

    token_sha256: str | None = None
    new_token: bool = field(default=False, compare=False, repr=False)  # asks for a new token
    kind: ClassVar[str] = "webhook"

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is this webhook's (compared in constant time).

        Example:
            >>> WebhookTrigger(hash_token("s3cret")).accepts("s3cret")
            True
        """
        if self.token_sha256 is None:
            return False
        return hmac.compare_digest(hash_token(token), self.token_sha256)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "token_sha256": self.token_sha256}

    def describe(self) -> str:
        return "webhook"


@dataclass(frozen=True, slots=True)
class GitTrigger:
    """Fires on a commit to ``ref`` that changes one of ``paths`` (relative to ``repository``).

    ``object_ids`` holds each path's git blob (file) or tree (folder) id at registration.
    """

    paths: tuple[str, ...] = ()
    repository: str | None = None
    ref: str | None = None
    commit: str | None = None
    object_ids: Mapping[str, str] = field(default_factory=dict, hash=False)
    kind: ClassVar[str] = "git"

    def changed_paths(self) -> list[str]:
        """The watched paths whose object id at ``ref`` (or ``HEAD``) is not the recorded one."""
        if self.repository is None:
            raise InvalidInputError("this git trigger is not registered yet; it has no baseline")
        root = Path(self.repository)
        ref = self.ref or "HEAD"
        return [p for p, old in self.object_ids.items() if _git.object_id(root, p, ref) != old]

    def current_ids(self) -> dict[str, str | None]:
        """Each watched path's object id at ``ref`` (or ``HEAD``) now (``None``: gone)."""
        if self.repository is None:
            raise InvalidInputError("this git trigger is not registered yet; it has no baseline")
        root = Path(self.repository)
        return {p: _git.object_id(root, p, self.ref or "HEAD") for p in self.object_ids}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "paths": list(self.paths),
            "repository": self.repository,
            "ref": self.ref,
            "commit": self.commit,
            "object_ids": dict(self.object_ids),
        }

    def describe(self) -> str:
        where = f" on {self.ref}" if self.ref else ""
        return f"git {', '.join(self.paths) or '(pipeline modules)'}{where}"


Trigger = DatasetTrigger | WebhookTrigger | GitTrigger


def on_dataset(name: str, *, watch_source: bool = False) -> DatasetTrigger:
    """Run the pipeline when a new version of dataset ``name`` is logged.

    ``name`` may also be written ``datasets:/name`` or ``name@latest``. With
    ``watch_source``, a change of the file or folder the latest version was logged from
    is logged as a new version by the automation controller (and so fires it too).

    Example:
        >>> on_dataset("datasets:/churn@latest")
        DatasetTrigger(dataset='churn', latest_version=None, watch_source=False)
    """
    dataset, version = parse_target(name)
    if version is not None:
        raise InvalidInputError(
            f"on_dataset({name!r}) names version {version}; a trigger watches a dataset "
            f"for new versions: give on_dataset({dataset!r})"
        )
    check_name(dataset)
    return DatasetTrigger(dataset, watch_source=bool(watch_source))


def on_webhook(*, new_token: bool = False) -> WebhookTrigger:
    """Run the pipeline when its webhook is called with its secret token.

    The token is made when the pipeline is registered and shown only then, in
    ``Registration.webhook_token``; ``new_token=True`` replaces an existing one.

    Example:
        >>> on_webhook().describe()
        'webhook'
    """
    return WebhookTrigger(new_token=new_token)


def on_git_change(paths: Sequence[str | Path] = ()) -> GitTrigger:
    """Run the pipeline when a commit changes its source.

    Args:
        paths: files or folders to watch, relative to the current directory; by default
            the files of the modules that hold the pipeline and its steps.

    Example:
        >>> on_git_change(["src/features", "src/train.py"]).paths
        ('src/features', 'src/train.py')
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    return GitTrigger(paths=tuple(str(p) for p in paths))


def hash_token(token: str) -> str:
    """The SHA-256 a webhook token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


def trigger_from_dict(data: Mapping[str, Any]) -> Trigger:
    """A trigger from its ``to_dict()`` form."""
    kind = data.get("kind")
    if kind == "dataset":
        return DatasetTrigger(
            str(data["dataset"]), data.get("latest_version"), bool(data.get("watch_source"))
        )
    if kind == "webhook":
        return WebhookTrigger(data.get("token_sha256"))
    if kind == "git":
        return GitTrigger(
            paths=tuple(data.get("paths") or ()),
            repository=data.get("repository"),
            ref=data.get("ref"),
            commit=data.get("commit"),
            object_ids=dict(data.get("object_ids") or {}),
        )
    raise InvalidInputError(f"unknown trigger kind {kind!r}; known: dataset, webhook, git")
