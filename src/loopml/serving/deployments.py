"""Deployments as records: create, read, change (one transaction each), delete, history.

A deployment names a registered model, a :class:`~loopml.serving.policy.TrafficPolicy`
(the aliases or versions that answer, with weights, and a shadow), payload-log settings
and resources. Every change is one transaction that bumps the revision and writes the
revision row, an audit row and the lineage edges (deployment -> model version); a caller
that read revision N can ask for the change to apply only if it is still N
(``expected_revision``), so two controllers never overwrite each other silently.

Servers report what they actually serve with :meth:`DeploymentClient.record_served`;
:meth:`DeploymentClient.served_versions` gives the time ranges back ("what did
churn-api answer with last Tuesday?").

Example:
    >>> client = DeploymentClient(Settings.load())  # doctest: +SKIP
    >>> client.create("churn-api", "churn", TrafficPolicy.follow("production"))  # doctest: +SKIP
    >>> canary = TrafficPolicy((Route(alias="production", weight=90),
    ...                         Route(alias="challenger", weight=10)))  # doctest: +SKIP
    >>> client.set_traffic("churn-api", canary, expected_revision=1).revision  # doctest: +SKIP
    2
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update
from sqlalchemy.exc import IntegrityError

from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.paging import Page, check_limit
from loopml.registry import RegistryClient, VersionStatus
from loopml.registry.aliases import check_alias
from loopml.serving.models import Deployment, DeploymentRevision, ServedRange
from loopml.serving.policy import PayloadLogSettings, Resources, TrafficPolicy
from loopml.store import Store
from loopml.store.audit import current_actor
from loopml.store.audit import record as audit
from loopml.store.lineage import Edge, add_edge_once, add_edges
from loopml.store.paging import order_clauses, page_after, page_of
from loopml.store.schema import deployment_revisions, deployment_served, deployments
from loopml.uris import model_uri

__all__ = ["DeploymentClient", "check_deployment_name"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
_D = deployments.c
_R = deployment_revisions.c
_S = deployment_served.c
_ORDER = [(_D.name, False)]
_UNSET: Any = object()
_MAX_VERSION = 2**31 - 1
_MAX_DESCRIPTION = 10_000


def check_deployment_name(name: object) -> str:
    """``name`` if it can name a deployment (it appears in URLs, metrics and file names).

    Raises:
        InvalidInputError: not a letter followed by up to 99 letters, digits, ``_``, ``-``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"deployment name {name!r} is not valid; start with a letter, then letters, "
            "digits, '_' or '-' (at most 100 characters), e.g. churn-api"
        )
    return name


class DeploymentClient:
    """Create, read, change and delete deployments; record what they served.

    Args:
        settings: where the metadata lives; :meth:`Settings.load` by default.

    Example:
        >>> client = DeploymentClient()  # doctest: +SKIP
        >>> [d.name for d in client.list_deployments().items]  # doctest: +SKIP
        ['churn-api']
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.registry = RegistryClient(settings)
        self.settings = self.registry.settings
        self.store: Store = self.registry.store

    # -- reading -----------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        """The deployment ``name`` as it is now.

        Raises:
            NotFoundError: no such deployment (suggesting close names).
        """
        with self.store.read() as conn:
            return Deployment.from_row(_find(conn, name))

    def list_deployments(
        self, limit: int = 100, page_token: str | None = None, *, model: str | None = None
    ) -> Page[Deployment]:
        """Deployments by name, ``limit`` at a time (optionally only those of ``model``).

        Example:
            >>> page = client.list_deployments(limit=10)  # doctest: +SKIP
            >>> client.list_deployments(limit=10, page_token=page.next_page_token)  # doctest: +SKIP
        """
        limit = check_limit(limit)
        query = select(deployments)
        after = page_after(_ORDER, page_token)
        if after is not None:
            query = query.where(after)
        if model is not None:
            query = query.where(_D.model == model)
        query = query.order_by(*order_clauses(_ORDER)).limit(limit + 1)
        with self.store.read() as conn:
            page = page_of(conn.execute(query).all(), _ORDER, limit)
        items = [Deployment.from_row(row._mapping) for row in page.items]
        return Page(items, page.next_page_token)

    def history(self, name: str) -> list[DeploymentRevision]:
        """Every revision of ``name`` as stored, oldest first (a deleted one's too).

        Raises:
            NotFoundError: no deployment of that name ever existed.
        """
        with self.store.read() as conn:
            rows = conn.execute(
                select(deployment_revisions).where(_R.name == name).order_by(_R.revision)
            ).mappings()
            found = [DeploymentRevision.from_row(row) for row in rows]
            if not found:
                raise _missing(conn, name)
        return found

    def resolve(self, deployment: Deployment) -> dict[str, int]:
        """The version each target of ``deployment``'s policy names now (``{"@production": 3}``).

        Raises:
            NotFoundError: the model, an alias or a version is gone.
        """
        return self._resolve(deployment.model, deployment.policy)

    # -- changing ----------------------------------------------------------------------

    def create(
        self,
        name: str,
        model: str,
        policy: TrafficPolicy | Mapping[str, Any],
        *,
        payload_log: PayloadLogSettings | None = None,
        resources: Resources | None = None,
        description: str | None = None,
        reason: str | None = None,
    ) -> Deployment:
        """Store a new deployment (revision 1, or the next after a deleted one's last).

        Raises:
            InvalidInputError: a bad name or policy.
            NotFoundError: the model, an alias or a version the policy names does not exist.
            ConflictError: a deployment of that name exists.
        """
        check_deployment_name(name)
        _check_description(description)
        logging = _checked("payload_log", payload_log or PayloadLogSettings())
        running = _checked("resources", resources or Resources())
        policy = _policy(policy)
        resolved = self._resolve(model, policy)
        actor = current_actor()

        def work(conn: Connection) -> Deployment:
            if _lock(conn, name) is not None:
                raise ConflictError(
                    f"deployment {name!r} already exists; change it with "
                    f"`loopml deployments update {name}` or delete it first"
                )
            last = conn.execute(select(func.max(_R.revision)).where(_R.name == name)).scalar()
            at = now_ms()
            row = {
                "name": name,
                "model": model,
                "policy": policy.to_dict(),
                "payload_log": logging.to_dict(),
                "resources": running.to_dict(),
                "description": description,
                "revision": int(last or 0) + 1,
                "created_at": at,
                "created_by": actor,
                "updated_at": at,
                "updated_by": actor,
            }
            conn.execute(deployments.insert().values(**row))
            return _changed(conn, row, "created", resolved, actor, reason, {})

        try:
            return self.store.transact(work)
        except IntegrityError as err:  # another writer created it between our look and insert
            raise ConflictError(
                f"deployment {name!r} was just created by someone else; change it with "
                f"`loopml deployments update {name}` or pick another name",
                details={"reason": str(err.orig)},
            ) from err

    def update(
        self,
        name: str,
        *,
        policy: TrafficPolicy | Mapping[str, Any] | None = None,
        payload_log: PayloadLogSettings | None = None,
        resources: Resources | None = None,
        description: str | None = _UNSET,
        expected_revision: int | None = None,
        reason: str | None = None,
    ) -> Deployment:
        """Change what is given, all in one transaction, as the next revision.

        Nothing changes (and no revision is made) when every value given equals the
        stored one.

        Args:
            expected_revision: apply only if the deployment is still at this revision.

        Raises:
            ConflictError: ``expected_revision`` is not the current revision.
            NotFoundError: no such deployment, or the new policy names what does not exist.
            InvalidInputError: nothing to change was given, or a bad value.
        """
        return self._update(
            name, "updated", expected_revision, reason,
            policy=None if policy is None else _policy(policy), payload_log=payload_log,
            resources=resources, description=description,
        )  # fmt: skip

    def set_traffic(
        self,
        name: str,
        policy: TrafficPolicy | Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        reason: str | None = None,
    ) -> Deployment:
        """Replace the traffic policy (what the automation controller calls for a canary).

        Example:
            >>> back = TrafficPolicy.follow("production")
            >>> client.set_traffic("churn-api", back, reason="canary done")  # doctest: +SKIP
        """
        return self._update(name, "traffic", expected_revision, reason, policy=_policy(policy))

    def delete(self, name: str, *, reason: str | None = None) -> Deployment:
        """Delete ``name``; its history and served ranges stay (the open ones are closed).

        Returns:
            The deployment as it was.
        """
        actor = current_actor()

        def work(conn: Connection) -> Deployment:
            row = dict(_lock_existing(conn, name))
            conn.execute(deployments.delete().where(_D.name == name))
            at = now_ms()
            conn.execute(
                update(deployment_served)
                .where(_S.deployment == name, _S.ended_at.is_(None))
                .values(ended_at=at)
            )
            _write_revision(conn, {**row, "revision": row["revision"] + 1}, "deleted", at,
                            actor, reason)  # fmt: skip
            details = {"revision": row["revision"] + 1}
            audit(conn, action="deployment.deleted", object_kind="deployment", object_id=name,
                  reason=reason, details=details, actor=actor)  # fmt: skip
            return Deployment.from_row(row)

        return self.store.transact(work)

    # -- what servers served -----------------------------------------------------------

    def record_served(self, name: str, targets: Mapping[str, int], at_ms: int) -> None:
        """Record that ``name`` serves ``{target: version}`` from ``at_ms`` (Unix ms) on.

        Idempotent: a target already serving that version is left alone. When a target's
        version changes its open range is closed at ``at_ms`` and a new one opens (with a
        lineage edge deployment -> model version); a target no longer in ``targets`` is
        closed. A report older than an open range is ignored whole (a slower replica).

        Raises:
            NotFoundError: no such deployment.
            InvalidInputError: a version that is not a positive integer, or a bad time.
        """
        checked = _check_targets(targets)
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or not 0 <= at_ms < 2**62:
            raise InvalidInputError(f"at_ms must be Unix milliseconds (an int >= 0), got {at_ms!r}")

        def work(conn: Connection) -> None:
            model = _lock_existing(conn, name)["model"]
            open_rows = conn.execute(
                select(deployment_served).where(_S.deployment == name, _S.ended_at.is_(None))
            ).mappings()
            current = {row["target"]: row for row in open_rows}
            if any(at_ms < row["started_at"] for row in current.values()):
                return  # older than what is recorded: a slower replica's news
            edges: list[Edge] = []
            for target, version in checked.items():
                row = current.pop(target, None)
                if row is not None and row["version"] == version:
                    continue
                if row is not None:
                    _close(conn, row["id"], at_ms)
                conn.execute(deployment_served.insert().values(
                    deployment=name, target=target, model=model, version=version,
                    started_at=at_ms, ended_at=None,
                ))  # fmt: skip
                attributes = {"target": target, "served_from": at_ms}
                edges.append((("deployment", name), "consumed",
                              ("model_version", f"{model}/{version}"), attributes))  # fmt: skip
            for row in current.values():
                _close(conn, row["id"], at_ms)
            add_edges(conn, edges)

        self.store.transact(work)

    def served_versions(self, name: str, target: str | None = None) -> list[ServedRange]:
        """The versions ``name`` served (per target), with their time ranges, oldest first.

        Raises:
            NotFoundError: no deployment of that name ever existed.
        """
        query = select(deployment_served).where(_S.deployment == name)
        if target is not None:
            query = query.where(_S.target == target)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(_S.started_at, _S.target, _S.id)).mappings().all()
            if not rows and not _ever_existed(conn, name):
                raise _missing(conn, name)
        return [
            ServedRange(
                r["deployment"],
                r["target"],
                r["model"],
                int(r["version"]),
                int(r["started_at"]),
                r["ended_at"],
            )
            for r in rows
        ]

    # -- internals ---------------------------------------------------------------------

    def _update(
        self,
        name: str,
        action: str,
        expected_revision: int | None,
        reason: str | None,
        **changes: Any,
    ) -> Deployment:
        given = {key: value for key, value in changes.items() if value is not None}
        if "description" in changes and changes["description"] is None:
            given["description"] = None  # an explicit None clears it
        given = {key: value for key, value in given.items() if value is not _UNSET}
        if not given:
            raise InvalidInputError(
                f"nothing to change in deployment {name!r}; give a policy, payload_log, "
                "resources or description"
            )
        if expected_revision is not None and (
            isinstance(expected_revision, bool) or not isinstance(expected_revision, int)
        ):
            raise InvalidInputError(
                f"expected_revision must be a revision number, got {expected_revision!r}"
            )
        actor = current_actor()
        # A new policy must resolve; other changes leave the routes (and lineage) alone.
        resolved = self._resolve(self.get(name).model, given["policy"]) if "policy" in given else {}

        def work(conn: Connection) -> Deployment:
            row = dict(_lock_existing(conn, name))
            if expected_revision is not None and row["revision"] != expected_revision:
                raise ConflictError(
                    f"deployment {name!r} is at revision {row['revision']}, not "
                    f"{expected_revision}: someone changed it meanwhile; read it again "
                    f"(`loopml deployments show {name}`) and retry on top of it",
                    details={"revision": row["revision"], "expected": expected_revision},
                )
            new = {key: _stored(key, value) for key, value in given.items()}
            changed = {key: value for key, value in new.items() if row[key] != value}
            if not changed:
                return Deployment.from_row(row)
            row.update(changed, revision=row["revision"] + 1, updated_at=now_ms(),
                       updated_by=actor)  # fmt: skip
            conn.execute(
                update(deployments).where(_D.name == name).values(
                    **changed, revision=row["revision"], updated_at=row["updated_at"],
                    updated_by=actor,
                )
            )  # fmt: skip
            return _changed(conn, row, action, resolved, actor, reason, changed)

        return self.store.transact(work)

    def _resolve(self, model: str, policy: TrafficPolicy) -> dict[str, int]:
        """Each target's version now; clear errors for a missing model, alias or version."""
        info = self.registry.get_model(model)
        resolved: dict[str, int] = {}
        for route in policy.targets():
            if route.alias is not None:
                if route.alias not in info.aliases:
                    raise NotFoundError(
                        "alias", f"{model}@{route.alias}",
                        choices=[f"{model}@{alias}" for alias in info.aliases],
                        hint=_alias_hint(model, route.alias, info.aliases),
                    )  # fmt: skip
                resolved[route.target] = info.aliases[route.alias]
            else:
                assert route.version is not None  # a Route names an alias or a version
                if route.version > _MAX_VERSION:  # the database's INTEGER would overflow
                    raise InvalidInputError(
                        f"version {route.version} is out of range; versions of "
                        f"{model!r} are numbered from 1 (at most {_MAX_VERSION})"
                    )
                version = self.registry.get_version(model, route.version)
                if version.status is VersionStatus.ARCHIVED:
                    raise InvalidInputError(
                        f"{model_uri(model, route.version)} is archived; route to a live version "
                        "or set its status back first"
                    )
                resolved[route.target] = route.version
        return resolved


# -- rows -------------------------------------------------------------------------------


def _policy(policy: TrafficPolicy | Mapping[str, Any]) -> TrafficPolicy:
    """``policy`` as a value whose every alias is a valid alias name."""
    policy = _as_policy(policy)
    for route in policy.targets():
        if route.alias is not None:
            check_alias(route.alias)
    return policy


def _as_policy(policy: TrafficPolicy | Mapping[str, Any]) -> TrafficPolicy:
    if isinstance(policy, TrafficPolicy):
        return policy
    if isinstance(policy, Mapping):
        try:
            return TrafficPolicy.from_dict(policy)
        except (AttributeError, TypeError) as err:  # not the shape to_dict() gives
            raise InvalidInputError(
                f"policy {str(policy)[:200]} is not a traffic policy; give "
                '{"routes": [{"alias": "production", "weight": 100}], "shadow": null}'
            ) from err
    raise InvalidInputError(
        f"policy must be a TrafficPolicy (or its to_dict()), got {type(policy).__name__}; "
        "e.g. TrafficPolicy.follow('production')"
    )


_TYPES: dict[str, type[Any]] = {
    "policy": TrafficPolicy,
    "payload_log": PayloadLogSettings,
    "resources": Resources,
}


def _stored(key: str, value: Any) -> Any:
    """A changed field as its column holds it."""
    if key == "description":
        return _check_description(value)
    return _checked(key, value).to_dict()


def _checked(key: str, value: Any) -> Any:
    """``value`` if it is what field ``key`` holds (a settings value object)."""
    wanted = _TYPES[key]
    if not isinstance(value, wanted):
        raise InvalidInputError(
            f"{key} must be a {wanted.__name__}, got {type(value).__name__}; e.g. "
            f"{key}={wanted.__name__}()"
        )
    return value


def _check_description(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"description must be text, got {type(value).__name__}")
    if value is not None and len(value) > _MAX_DESCRIPTION:
        raise InvalidInputError(
            f"description is {len(value)} characters long; keep it under {_MAX_DESCRIPTION}"
        )
    return value


def _check_targets(targets: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(targets, Mapping):
        raise InvalidInputError(f"targets must map a target to a version, got {targets!r}")
    checked: dict[str, int] = {}
    for target, version in targets.items():
        if not isinstance(target, str) or not target or len(target) > 250:
            raise InvalidInputError(f"a served target must be '@alias' or 'vN', got {target!r}")
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not 1 <= version <= _MAX_VERSION
        ):
            raise InvalidInputError(
                f"the version served for {target} must be a positive integer, got {version!r}"
            )
        checked[target] = version
    return checked


def _find(conn: Connection, name: str) -> RowMapping:
    row = conn.execute(select(deployments).where(_D.name == name)).mappings().first()
    if row is None:
        raise _missing(conn, name)
    return row


def _lock(conn: Connection, name: str) -> RowMapping | None:
    query = select(deployments).where(_D.name == name).with_for_update()
    return conn.execute(query).mappings().first()


def _lock_existing(conn: Connection, name: str) -> RowMapping:
    row = _lock(conn, name)
    if row is None:
        raise _missing(conn, name)
    return row


def _ever_existed(conn: Connection, name: str) -> bool:
    return conn.execute(select(_R.revision).where(_R.name == name).limit(1)).first() is not None


def _missing(conn: Connection, name: str) -> NotFoundError:
    names = list(conn.execute(select(_D.name).order_by(_D.name)).scalars())
    hint = (
        f"deployments: {', '.join(names[:20])}"
        if names
        else "there are no deployments yet; create one with `loopml deployments create`"
    )
    return NotFoundError("deployment", name, choices=names, hint=hint)


def _alias_hint(model: str, alias: str, aliases: Mapping[str, int]) -> str:
    there = ", ".join(f"@{a} (v{v})" for a, v in aliases.items()) or "none yet"
    return (
        f"aliases of {model!r}: {there}; point it at a version first "
        f"(loopml models alias {model} <version> {alias})"
    )


def _close(conn: Connection, row_id: int, at_ms: int) -> None:
    conn.execute(update(deployment_served).where(_S.id == row_id).values(ended_at=at_ms))


def _write_revision(
    conn: Connection, row: Mapping[str, Any], action: str, at: int, actor: str, reason: str | None
) -> None:
    conn.execute(deployment_revisions.insert().values(
        name=row["name"], revision=row["revision"], action=action, model=row["model"],
        policy=row["policy"], payload_log=row["payload_log"], resources=row["resources"],
        description=row["description"], at=at, actor=actor, reason=reason,
    ))  # fmt: skip


def _changed(
    conn: Connection,
    row: Mapping[str, Any],
    action: str,
    resolved: Mapping[str, int],
    actor: str,
    reason: str | None,
    changed: Mapping[str, Any],
) -> Deployment:
    """The revision row, the audit row and the lineage edges of one stored change."""
    name, model = row["name"], row["model"]
    _write_revision(conn, row, action, int(row["updated_at"]), actor, reason)
    details = {"revision": row["revision"], "model": model, "changed": sorted(changed),
               "policy": row["policy"], "targets": dict(resolved)}  # fmt: skip
    audit(conn, action=f"deployment.{action}", object_kind="deployment", object_id=name,
          reason=reason, details=details, actor=actor)  # fmt: skip
    for target, version in resolved.items():
        add_edge_once(conn, ("deployment", name), "consumed",
                      ("model_version", f"{model}/{version}"), {"target": target})  # fmt: skip
    return Deployment.from_row(row)
