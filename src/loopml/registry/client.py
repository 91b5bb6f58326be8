"""The model registry's client: models, versions, aliases, governance, events, webhooks.

:class:`RegistryClient` turns model packages into numbered versions of named models,
points aliases at them with full history, guards promotion with each model's policy,
stores evaluations, and publishes every change as an event (and to webhooks).

Every write is one transaction holding the change, its audit row and its event; writes
to one model hold that model's row lock, so concurrent writers (threads, processes,
machines) are serialized and nothing interleaves. Webhooks are woken only after the
commit, so a dead receiver never slows or fails a change.

Example:
    >>> client = RegistryClient()  # doctest: +SKIP
    >>> v = client.register(f"runs:/{run.id}/model", "churn")  # doctest: +SKIP
    >>> client.set_alias("churn", "staging", v.version)  # doctest: +SKIP
    >>> client.resolve("models:/churn@staging").version  # doctest: +SKIP
    1
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, TypeVar

from sqlalchemy import Connection, and_, bindparam, false, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.artifacts import ArtifactStore, ManifestEntry
from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.packaging.models import PackageInfo
from loopml.packaging.onnx_export import OnnxMode, onnx_mode
from loopml.paging import MAX_PAGE_SIZE, Page, check_limit, iter_pages
from loopml.registry import (
    _copy,
    _evaluations,
    _promotion,
    _records,
    _sources,
    _versions,
    aliases,
    events,
    governance,
    webhooks,
)
from loopml.registry._files import resolve_version
from loopml.registry._onnx import with_onnx
from loopml.registry._records import Row
from loopml.registry.aliases import ANY, AnyVersion
from loopml.registry.models import (
    AliasChange,
    Approval,
    CopiedVersion,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    RegistryEvent,
    RoleGrant,
    SavedEvaluation,
    VersionStatus,
    Webhook,
)
from loopml.render import FigureLike, figure_json
from loopml.store import Store, open_store
from loopml.store.audit import current_actor
from loopml.store.audit import record as audit
from loopml.store.lineage import Node
from loopml.store.paging import SortKey, page_of, paged_query
from loopml.store.schema import model_aliases, model_versions, registered_models
from loopml.uris import model_uri, parse_uri

__all__ = ["ANY", "RegistryClient"]

T = TypeVar("T")
Source = str | os.PathLike[str] | PackageInfo
_ATTEMPTS = 8
_V = model_versions.c
_A = model_aliases.c
_M = registered_models.c
_MODEL_ORDER: Final[list[SortKey]] = [(_M.name, False)]
_VERSION_ORDER: Final[list[SortKey]] = [(_V.version, False)]
_BY_ALIAS = (
    select(model_versions)
    .join(model_aliases, and_(_A.model == _V.model, _A.version == _V.version))
    .where(_A.model == bindparam("m"), _A.alias == bindparam("a"))
)


class RegistryClient:
    """Register, find, alias, govern and promote model versions in one store.

    Args:
        settings: where the metadata and artifacts live; :meth:`Settings.load` by default.
        gate_check: checks a policy's gates when :meth:`set_policy` is called, raising
            ``InvalidInputError`` for a gate no evaluation could judge. The registry cannot
            parse gates itself (evaluation sits above it), so the layers that see both
            inject one: ``loopml.RegistryClient`` and the CLI check with
            :func:`loopml.evaluation.gates.check_policy_gates`.

    Example:
        >>> client = RegistryClient(Settings.load(home="/tmp/loopml-doc"))  # doctest: +SKIP
        >>> client.register("runs:/01J0ABC/model", "churn").uri  # doctest: +SKIP
        'models:/churn/1'
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        gate_check: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self.gate_check = gate_check
        self.store: Store = open_store(self.settings.db_url)
        self._artifact_store: ArtifactStore | None = None

    @property
    def artifact_store(self) -> ArtifactStore:
        """The artifact store the packages' files live in (opened on first use)."""
        if self._artifact_store is None:
            self._artifact_store = ArtifactStore.from_url(self.settings.artifacts_url)
        return self._artifact_store

    # -- package files -----------------------------------------------------------------

    def package_files(self, uri: str) -> tuple[str, list[ManifestEntry]]:
        """Where the package ``uri`` names is stored, and its files (paths in the package).

        ``uri`` is ``models:/name/3``, ``models:/name@alias`` or ``runs:/<id>/<path>``; the
        URI returned names the place for good (an alias resolved to its version now).

        Raises:
            NotFoundError: no such model, version, alias, run or package.

        Example:
            >>> where, files = client.package_files("models:/churn@production")  # doctest: +SKIP
            >>> where, sorted(f.path for f in files)[:1]  # doctest: +SKIP
            ('models:/churn/3', ['data/model.pkl'])
        """
        from loopml.registry import _files

        with self.store.read() as conn:
            location = _files.locate(conn, parse_uri(uri))
            return location.uri, _files.files_of(conn, location)

    def open_package_file(self, uri: str, path: str) -> tuple[ManifestEntry, BinaryIO]:
        """One file of the package ``uri`` names, as a stream verified as it is read.

        Raises:
            NotFoundError: no such package, or no file ``path`` in it.
            DigestMismatchError: the stored bytes do not match (at the end of reading).
        """
        where, entries = self.package_files(uri)
        for entry in entries:
            if entry.path == path:
                return entry, self.artifact_store.open_verified(entry.digest)
        paths = sorted(e.path for e in entries)
        raise NotFoundError(
            "package file",
            path,
            hint=f"{where} holds {', '.join(paths[:10])}" + (" …" if len(paths) > 10 else ""),
        )

    # -- models ------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Create an empty model (``register`` also creates one on its first version).

        Args:
            name: letters, digits, ``_``, ``.`` and ``-``.
            description: what the model is for.
            tags: free-form ``{name: value}`` labels.

        Raises:
            ConflictError: a model with that name exists.
            InvalidInputError: a bad name or tags.

        Example:
            >>> client.create_model("churn", description="who leaves next month")  # doctest: +SKIP
            RegisteredModel(name='churn', ...)
        """
        _records.check_model_name(name)
        clean = _no_removals(_records.check_tags(tags, "model"))
        actor = current_actor()

        def work(conn: Connection) -> RegisteredModel:
            if _records.try_lock_model(conn, name) is not None:
                raise ConflictError(
                    f"model '{name}' already exists; use get_model('{name}') or "
                    f"update_model('{name}', ...)",
                    details={"name": name},
                )
            return _versions.insert_model(
                conn, name, description=description, tags=clean, actor=actor,
                at=now_ms(),
            )  # fmt: skip

        return self._write(work)

    def get_model(self, name: str) -> RegisteredModel:
        """The model ``name`` with its aliases and latest version number.

        Raises:
            NotFoundError: no such model (the message lists close names and all models).

        Example:
            >>> client.get_model("churn").aliases  # doctest: +SKIP
            {'production': 3, 'staging': 4}
        """
        with self.store.read() as conn:
            row = _records.find_model(conn, name)
            return _records.to_model(row, _records.aliases_of_model(conn, name))

    def list_models(self) -> list[RegisteredModel]:
        """Every model, by name.

        Example:
            >>> [m.name for m in client.list_models()]  # doctest: +SKIP
            ['churn', 'fraud']
        """
        pages = iter_pages(lambda token: self.page_models(limit=MAX_PAGE_SIZE, page_token=token))
        return list(pages)

    def page_models(
        self, *, limit: int = 100, page_token: str | None = None
    ) -> Page[RegisteredModel]:
        """One page of :meth:`list_models`: ``limit`` models after ``page_token``, by name.

        Raises:
            InvalidInputError: a limit outside 1..10,000, or a token of another listing.

        Example:
            >>> page = client.page_models(limit=20)  # doctest: +SKIP
            >>> token = page.next_page_token  # doctest: +SKIP
            >>> more = client.page_models(limit=20, page_token=token)  # doctest: +SKIP
        """
        limit = check_limit(limit)
        with self.store.read() as conn:
            query = paged_query(select(registered_models), _MODEL_ORDER, limit, page_token)
            page = page_of(conn.execute(query).all(), _MODEL_ORDER, limit)
            names = [row.name for row in page.items]
            pointers: dict[str, dict[str, int]] = {}
            # The page is a run of names in order: its aliases are those of the models from
            # its first name to its last (one range, however long the page).
            within = _A.model.between(names[0], names[-1]) if names else false()
            for model, alias, version in conn.execute(
                select(_A.model, _A.alias, _A.version).where(within).order_by(_A.model, _A.alias)
            ):
                pointers.setdefault(model, {})[alias] = version
        items = [_records.to_model(row._mapping, pointers.get(row.name, {})) for row in page.items]
        return Page(items, page.next_page_token)

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> RegisteredModel:
        """Change a model's description and tags.

        Args:
            name: the model.
            description: the new description (``None``: unchanged).
            tags: tags to set; a ``None`` value removes that tag; others stay.

        Example:
            >>> tags = {"owner": "growth", "draft": None}  # sets owner, removes draft
            >>> client.update_model("churn", tags=tags).tags  # doctest: +SKIP
            {'owner': 'growth'}
        """
        updates = _records.check_tags(tags, "model")
        if description is None and not updates:
            raise InvalidInputError("nothing to update: give description= or tags=")
        actor = current_actor()

        def work(conn: Connection) -> RegisteredModel:
            row = _records.lock_model(conn, name)
            values = {
                "description": row["description"] if description is None else description,
                "tags": _records.merge_tags(row["tags"] or {}, updates),
                "updated_at": now_ms(),
            }
            conn.execute(update(registered_models).where(_M.name == name).values(**values))
            changed = {"description": description, "tags": updates}
            events.record(conn, "model.updated", name, None, changed, actor=actor)
            return _records.to_model({**row, **values}, _records.aliases_of_model(conn, name))

        return self._write(work)

    # -- versions ----------------------------------------------------------------------

    def register(
        self,
        source: Source,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        onnx: bool | OnnxMode = False,
    ) -> ModelVersion:
        """Register a model package as the next version of ``name``.

        The version gets its own copy of the package's file list, so deleting the run
        later never breaks it. Its status starts as ``registered``.

        Args:
            source: ``runs:/<run_id>/<path>`` of a logged package (or the ``PackageInfo``
                ``log_model`` returned), or a local package folder (verified, then stored).
            name: the model; created when it does not exist yet.
            description: describes this version.
            tags: free-form labels of this version.
            onnx: add an ONNX graph of the model (scikit-learn, LightGBM, XGBoost),
                checked against the native model on the package's input example
                (:mod:`loopml.packaging.onnx_export`), for ``load_model(...,
                runtime="onnx")``. ``True`` (or ``"required"``) refuses the registration
                when that fails; ``"if-possible"`` registers without the graph then, with
                a warning and the reason in the ``model_version.created`` event.

        Returns:
            The new version (``uri`` is ``models:/<name>/<N>``).

        Raises:
            NotFoundError: no such run, package path or folder (listing what exists).
            DigestMismatchError: a file differs from what the package's ``model.json`` says.
            InvalidInputError: a bad name, tags or source.
            OnnxConversionError: ``onnx=True`` and the model cannot be converted, or its
                graph answers differently (the message names the estimator and the gap).

        Example:
            >>> v = client.register(f"runs:/{run.id}/model", "churn")  # doctest: +SKIP
            >>> v.uri, v.status.value  # doctest: +SKIP
            ('models:/churn/4', 'registered')
        """
        _records.check_model_name(name)
        clean = _no_removals(_records.check_tags(tags, "version"))
        mode = onnx_mode(onnx)
        package = self._read_source(source)
        package, note = with_onnx(self.settings, self.artifact_store, package, mode)
        actor = current_actor()
        return self._write(
            lambda conn: _versions.insert_version(
                conn, name, package, description=description, tags=clean, actor=actor, onnx=note
            )
        )

    def get_version(self, name: str, version: int) -> ModelVersion:
        """Version ``version`` of model ``name``.

        Raises:
            NotFoundError: no such model or version (the message lists the versions).

        Example:
            >>> client.get_version("churn", 3).status  # doctest: +SKIP
            <VersionStatus.DEPLOYED: 'deployed'>
        """
        with self.store.read() as conn:
            row = _records.find_version(conn, name, version)
            return _records.to_version(row, _records.aliases_of_version(conn, name, version))

    def resolve(self, uri: str) -> ModelVersion:
        """The version ``models:/name/3`` or ``models:/name@alias`` names.

        Raises:
            NotFoundError: no such model, version or alias (listing what exists).
            InvalidInputError: not a ``models:/`` URI.

        Example:
            >>> client.resolve("models:/churn@production").version  # doctest: +SKIP
            3
        """
        parsed = parse_uri(uri)
        if parsed.scheme != "models" or parsed.path:
            raise InvalidInputError(
                f"'{uri}' does not name a model version; give models:/<name>/<version> or "
                "models:/<name>@<alias>"
            )
        with self.store.read() as conn:
            found = None
            if parsed.alias is not None:
                query = conn.execute(_BY_ALIAS, {"m": parsed.name, "a": parsed.alias})
                found = query.mappings().first()
            if found is None:  # a version number, or an alias that is missing: say why
                found = resolve_version(conn, parsed)
            row = found
            name, number = row["model"], int(row["version"])
            return _records.to_version(row, _records.aliases_of_version(conn, name, number))

    def list_versions(
        self, name: str, status: VersionStatus | str | None = None
    ) -> list[ModelVersion]:
        """Every version of ``name`` (with one status), oldest first.

        Example:
            >>> validated = client.list_versions("churn", status="validated")  # doctest: +SKIP
            >>> [v.version for v in validated]  # doctest: +SKIP
            [2, 4]
        """
        pages = iter_pages(
            lambda token: self.page_versions(name, status, limit=MAX_PAGE_SIZE, page_token=token)
        )
        return list(pages)

    def page_versions(
        self,
        name: str,
        status: VersionStatus | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """One page of :meth:`list_versions`: ``limit`` versions after ``page_token``.

        Raises:
            NotFoundError: no such model.
            InvalidInputError: a bad status or limit, or a token of another listing.

        Example:
            >>> page = client.page_versions("churn", limit=2)  # doctest: +SKIP
            >>> [v.version for v in page.items], page.next_page_token is None  # doctest: +SKIP
            ([1, 2], False)
        """
        wanted = None if status is None else _check_status(status)
        limit = check_limit(limit)
        with self.store.read() as conn:
            _records.find_model(conn, name)
            query = select(model_versions).where(_V.model == name)
            if wanted is not None:
                query = query.where(_V.status == wanted.value)
            rows = conn.execute(paged_query(query, _VERSION_ORDER, limit, page_token)).all()
            page = page_of(rows, _VERSION_ORDER, limit)
            pointing: dict[int, list[str]] = {}
            for alias, number in _records.aliases_of_model(conn, name).items():
                pointing.setdefault(number, []).append(alias)
        items = [
            _records.to_version(row._mapping, pointing.get(int(row.version), ()))
            for row in page.items
        ]
        return Page(items, page.next_page_token)

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> ModelVersion:
        """Change a version's description and tags (a ``None`` tag value removes it).

        Example:
            >>> v = client.update_version("churn", 3, description="March data")  # doctest: +SKIP
            >>> v.description  # doctest: +SKIP
            'March data'
        """
        updates = _records.check_tags(tags, "version")
        if description is None and not updates:
            raise InvalidInputError("nothing to update: give description= or tags=")
        actor = current_actor()

        def work(conn: Connection) -> ModelVersion:
            _records.lock_model(conn, name)
            row = _records.find_version(conn, name, version)
            values = {
                "description": row["description"] if description is None else description,
                "tags": _records.merge_tags(row["tags"] or {}, updates),
            }
            conn.execute(
                update(model_versions)
                .where(_V.model == name, _V.version == version)
                .values(**values)
            )
            changed = {"description": description, "tags": updates}
            events.record(conn, "model_version.updated", name, version, changed, actor=actor)
            pointing = _records.aliases_of_version(conn, name, version)
            return _records.to_version({**row, **values}, pointing)

        return self._write(work)

    def set_status(
        self,
        name: str,
        version: int,
        status: VersionStatus | str,
        *,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version to ``validated``, ``rejected`` or ``archived`` by hand.

        ``approved`` comes from :meth:`approve` and ``deployed`` from :meth:`promote`,
        where the policy is checked. Moves follow :meth:`VersionStatus.can_move_to`.

        Raises:
            InvalidInputError: a move that is not allowed (listing the ones that are).
            ConflictError: archiving a version an alias points at.

        Example:
            >>> client.set_status("churn", 2, "validated").status  # doctest: +SKIP
            <VersionStatus.VALIDATED: 'validated'>
        """
        target = _check_status(status)
        if target is VersionStatus.APPROVED:
            raise InvalidInputError(
                f"approve a version with approve('{name}', {version}), which checks the "
                "approver's role, rather than setting its status"
            )
        if target is VersionStatus.DEPLOYED:
            raise InvalidInputError(
                f"deploy a version with promote('{name}', {version}), which checks the "
                "promotion policy, rather than setting its status"
            )
        actor = current_actor()

        def work(conn: Connection) -> ModelVersion:
            _records.lock_model(conn, name)
            row = _records.find_version(conn, name, version)
            return _versions.change_status(conn, row, target, actor=actor, reason=reason)

        return self._write(work)

    def archive(self, name: str, version: int, *, reason: str | None = None) -> ModelVersion:
        """Retire a version for good: no alias may point at it again.

        Raises:
            ConflictError: an alias points at it (the message names the aliases).

        Example:
            >>> client.archive("churn", 1, reason="superseded").status  # doctest: +SKIP
            <VersionStatus.ARCHIVED: 'archived'>
        """
        return self.set_status(name, version, VersionStatus.ARCHIVED, reason=reason)

    # -- aliases -----------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str | None = None,
        expected: int | Literal[AnyVersion.ANY] | None = ANY,
    ) -> AliasChange:
        """Point ``name@alias`` at ``version``.

        Aliases the model's policy protects (``production`` by default) move only
        through :meth:`promote`.

        Args:
            name: the model.
            alias: starts with a letter; letters, digits, ``_`` and ``-``.
            version: an existing, not archived version.
            reason: why (kept in the alias history and the audit log).
            expected: compare-and-set: the version the alias must point at now
                (``None``: the alias must not exist yet); :data:`ANY` by default.

        Returns:
            The history row of this move (``previous_version`` is what it pointed at).

        Raises:
            ConflictError: ``expected`` does not match (someone moved it meanwhile).
            InvalidInputError: a bad or protected alias, or an archived version.
            NotFoundError: no such model or version.

        Example:
            >>> moved = client.set_alias("churn", "staging", 4, expected=3)  # doctest: +SKIP
            >>> moved.previous_version  # doctest: +SKIP
            3
        """
        aliases.check_alias(alias)
        actor = current_actor()

        def work(conn: Connection) -> AliasChange:
            policy = governance.policy_of(_records.lock_model(conn, name))
            if alias in policy.protected_aliases:
                raise InvalidInputError(
                    f"alias {name}@{alias} is protected by the model's promotion policy; "
                    f"move it with promote('{name}', {version}, alias='{alias}'), which "
                    "checks the policy"
                )
            row = _records.find_version(conn, name, version)
            _refuse_archived(row, f"point {name}@{alias} at it")
            previous = aliases.current(conn, name, alias)
            aliases.check_expected(name, alias, previous, expected)
            change = aliases.move(
                conn, name, alias, version, previous=previous, actor=actor, reason=reason,
                at=now_ms(),
            )  # fmt: skip
            payload = {"alias": alias, "previous_version": previous}
            events.record(conn, "alias.set", name, version, payload, actor=actor, reason=reason)
            return change

        return self._write(work)

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str | None = None,
        expected: int | Literal[AnyVersion.ANY] = ANY,
    ) -> AliasChange:
        """Remove ``name@alias`` (its history stays).

        Raises:
            NotFoundError: the alias does not exist (listing the model's aliases).
            InvalidInputError: the alias is protected by the model's policy.
            ConflictError: ``expected`` does not match.

        Example:
            >>> client.remove_alias("churn", "canary", reason="done").version  # doctest: +SKIP
            >>> client.get_model("churn").aliases  # doctest: +SKIP
            {'production': 3}
        """
        aliases.check_alias(alias)
        actor = current_actor()

        def work(conn: Connection) -> AliasChange:
            policy = governance.policy_of(_records.lock_model(conn, name))
            if alias in policy.protected_aliases:
                raise InvalidInputError(
                    f"alias {name}@{alias} is protected by the model's promotion policy; "
                    "to remove it, first take it out of the policy's protected_aliases "
                    "(set_policy)"
                )
            previous = aliases.current(conn, name, alias)
            if previous is None:
                resolve_version(conn, parse_uri(model_uri(name, alias=alias)))  # raises
            aliases.check_expected(name, alias, previous, expected)
            change = aliases.move(
                conn, name, alias, None, previous=previous, actor=actor, reason=reason,
                at=now_ms(),
            )  # fmt: skip
            payload = {"alias": alias, "previous_version": previous}
            events.record(
                conn, "alias.removed", name, previous, payload, actor=actor, reason=reason
            )
            return change

        return self._write(work)

    def list_alias_changes(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of the model's aliases (or of one alias), oldest first.

        Raises:
            NotFoundError: no such model, or ``alias`` never existed (listing the aliases
                the model has had).

        Example:
            >>> moves = client.list_alias_changes("churn", "production")  # doctest: +SKIP
            >>> [(c.previous_version, c.version) for c in moves]  # doctest: +SKIP
            [(None, 1), (1, 3)]
        """
        with self.store.read() as conn:
            _records.find_model(conn, name)
            return aliases.history(conn, name, alias)

    def alias_at(self, name: str, alias: str, at_ms: int) -> int | None:
        """The version ``name@alias`` pointed at at ``at_ms`` (Unix ms), or ``None``.

        ``None`` means the alias did not exist yet, or had been removed, at that time.

        Raises:
            NotFoundError: the model does not exist or never had this alias.

        Example:
            >>> last_tuesday = 1_717_430_400_000  # doctest: +SKIP
            >>> client.alias_at("churn", "production", last_tuesday)  # doctest: +SKIP
            2
        """
        with self.store.read() as conn:
            _records.find_model(conn, name)
            return aliases.alias_at(conn, name, alias, int(at_ms))

    # -- governance --------------------------------------------------------------------

    def set_policy(self, name: str, policy: PromotionPolicy | Mapping[str, Any]) -> PromotionPolicy:
        """Set the promotion policy of ``name`` (what :meth:`promote` requires).

        Raises:
            InvalidInputError: a malformed policy, or a gate the client's ``gate_check``
                refuses (the stored policy is unchanged).

        Example:
            >>> client.set_policy("churn", PromotionPolicy(  # doctest: +SKIP
            ...     gates=("accuracy >= 0.9", "f1 >= champion - 0.01"),
            ...     require_approval=True, approver_role="ml-lead"))
            PromotionPolicy(gates=('accuracy >= 0.9', 'f1 >= champion - 0.01'), ...)
        """
        checked = governance.check_policy(policy)
        if self.gate_check is not None:
            self.gate_check(checked.gates)
        actor = current_actor()

        def work(conn: Connection) -> PromotionPolicy:
            row = _records.lock_model(conn, name)
            old = governance.policy_of(row)
            conn.execute(
                update(registered_models)
                .where(_M.name == name)
                .values(policy=checked.to_dict(), updated_at=now_ms())
            )
            payload = {"old": old.to_dict(), "new": checked.to_dict()}
            events.record(conn, "policy.updated", name, None, payload, actor=actor)
            return checked

        return self._write(work)

    def get_policy(self, name: str) -> PromotionPolicy:
        """The promotion policy of ``name`` (``PromotionPolicy()`` when none was set).

        Example:
            >>> client.get_policy("churn").protected_aliases  # doctest: +SKIP
            ('production',)
        """
        with self.store.read() as conn:
            return governance.policy_of(_records.find_model(conn, name))

    def grant_role(self, user: str, role: str) -> RoleGrant:
        """Give ``user`` ``role`` (granting it again changes nothing).

        Example:
            >>> client.grant_role("ana", "ml-lead").role  # doctest: +SKIP
            'ml-lead'
        """
        governance.check_user(user)
        governance.check_role(role)
        actor = current_actor()

        def work(conn: Connection) -> RoleGrant:
            granted = governance.grant(conn, user, role, actor=actor, at=now_ms())
            if granted is None:
                return next(g for g in governance.list_roles(conn, user) if g.role == role)
            _role_event(conn, "role.granted", user, role, actor)
            return granted

        return self._write(work)

    def revoke_role(self, user: str, role: str) -> None:
        """Take ``role`` from ``user``.

        Raises:
            NotFoundError: ``user`` does not hold ``role`` (listing the roles they hold).

        Example:
            >>> client.revoke_role("ana", "ml-lead")  # doctest: +SKIP
        """
        actor = current_actor()

        def work(conn: Connection) -> None:
            governance.revoke(conn, user, role)
            _role_event(conn, "role.revoked", user, role, actor)

        self._write(work)

    def list_roles(self, user: str | None = None) -> list[RoleGrant]:
        """Every role grant (of one user), by user then role.

        Example:
            >>> [(g.user, g.role) for g in client.list_roles()]  # doctest: +SKIP
            [('ana', 'ml-lead')]
        """
        with self.store.read() as conn:
            return governance.list_roles(conn, user)

    def approve(
        self,
        name: str,
        version: int,
        *,
        comment: str | None = None,
        actor: str | None = None,
    ) -> Approval:
        """Approve a validated version; its status becomes ``approved``.

        Args:
            name: the model.
            version: a version with status ``validated`` (or ``approved``: approving again
                adds a decision).
            comment: why.
            actor: who approves (default: the current user, see ``LOOPML_USER``).

        Raises:
            UnauthorizedError: the policy names an approver role ``actor`` does not hold.
            ConflictError: the version is not validated (evaluate it first).

        Example:
            >>> client.approve("churn", 4, comment="slices look fine").decision  # doctest: +SKIP
            'approved'
        """
        who = governance.check_user(actor) if actor is not None else current_actor()
        return self._write(
            lambda conn: _promotion.approve_or_reject(
                conn, name, version, "approved", comment=comment, actor=who
            )
        )

    def reject(
        self,
        name: str,
        version: int,
        *,
        comment: str,
        actor: str | None = None,
    ) -> Approval:
        """Reject a version, saying why; its status becomes ``rejected``.

        Raises:
            InvalidInputError: no comment.
            UnauthorizedError: the policy names an approver role ``actor`` does not hold.
            ConflictError: the version is deployed or archived.

        Example:
            >>> client.reject("churn", 4, comment="recall is 0.4").decision  # doctest: +SKIP
            'rejected'
        """
        if not isinstance(comment, str) or not comment.strip():
            raise InvalidInputError(
                f"a rejection needs a comment saying why, e.g. reject('{name}', {version}, "
                "comment='recall on new customers is too low')"
            )
        who = governance.check_user(actor) if actor is not None else current_actor()
        return self._write(
            lambda conn: _promotion.approve_or_reject(
                conn, name, version, "rejected", comment=comment, actor=who
            )
        )

    def list_approvals(self, name: str, version: int) -> list[Approval]:
        """Every decision (approved or rejected) on a version, oldest first.

        Example:
            >>> [(a.decision, a.actor) for a in client.list_approvals("churn", 4)]  # doctest: +SKIP
            [('approved', 'ana')]
        """
        with self.store.read() as conn:
            _records.find_version(conn, name, version)
            return governance.decisions(conn, name, version)

    def promotion_blockers(self, name: str, version: int, alias: str = "production") -> list[str]:
        """Every reason :meth:`promote` would refuse ``name/version`` now (empty: none).

        Example:
            >>> client.promotion_blockers("churn", 4)  # doctest: +SKIP
            ['models:/churn/4 needs an approval from someone with role ...']
        """
        aliases.check_alias(alias)
        with self.store.read() as conn:
            policy = governance.policy_of(_records.find_model(conn, name))
            row = _records.find_version(conn, name, version)
            return governance.promotion_blockers(conn, policy, row)

    def promote(
        self,
        name: str,
        version: int,
        alias: str = "production",
        *,
        reason: str | None = None,
        archive_previous: bool = False,
    ) -> ModelVersion:
        """Point ``alias`` at ``version`` once the model's policy allows it.

        The version must be ``validated`` or ``approved`` (or ``deployed``: a rollback),
        its latest evaluation must have passed every policy gate, and an approval is
        needed when the policy asks for one. The version becomes ``deployed``; lineage
        records that it was promoted from the version the alias pointed at before.

        Args:
            name: the model.
            version: the version to promote.
            alias: the alias to move; protected aliases move only this way.
            reason: why (kept in the alias history and the audit log).
            archive_previous: also archive the version the alias pointed at before.

        Raises:
            GateFailedError: listing every blocker (also in ``details["reasons"]``).
            ConflictError: ``archive_previous`` and another alias still points at the
                previous version.

        Example:
            >>> client.promote("churn", 4, reason="beats 3 on recall").aliases  # doctest: +SKIP
            ('production',)
        """
        aliases.check_alias(alias)
        actor = current_actor()
        return self._write(
            lambda conn: _promotion.promote(
                conn,
                name,
                version,
                alias,
                reason=reason,
                archive_previous=archive_previous,
                actor=actor,
            )
        )

    # -- environments ------------------------------------------------------------------

    def copy_version(
        self,
        name: str,
        version: int,
        *,
        to: RegistryClient,
        reason: str | None = None,
    ) -> CopiedVersion:
        """Copy a version that passed its gates here into another environment's registry.

        Both clients' settings name their environment (``Settings.load(env="dev")``).
        The copy is the next version of ``name`` there (the model is created when
        missing) with the same package, the source's latest gated evaluation stored
        again (so the target's policy sees it), a lineage summary
        (:meth:`copy_lineage`) and the tag ``copied_from`` = ``dev:models:/name/N``.
        Both registries record it (events ``model_version.copied_out`` here and
        ``model_version.copied_in`` there, with audit rows). Copying the same version
        again returns the copy there is (``created`` is then ``False``).

        Args:
            name: the model.
            version: its version in this registry.
            to: a client of the target environment's registry.
            reason: why (kept in both audit logs).

        Raises:
            GateFailedError: the version has not passed its gates here (status not
                validated/approved/deployed, no gated evaluation, a failed gate); every
                reason is listed, also in ``details["reasons"]``.
            InvalidInputError: an environment is not named, or both use one registry.
            ConflictError: a target version is tagged as this copy but is not one.

        Example:
            >>> dev = RegistryClient(Settings.load(env="dev"))  # doctest: +SKIP
            >>> staging = RegistryClient(Settings.load(env="staging"))  # doctest: +SKIP
            >>> copied = dev.copy_version("churn", 2, to=staging)  # doctest: +SKIP
            >>> copied.version.uri, copied.copied_from  # doctest: +SKIP
            ('models:/churn/1', 'dev:models:/churn/2')
        """
        return _copy.copy_version(self, to, name, version, reason=reason, actor=current_actor())

    def copy_lineage(self, name: str, version: int) -> dict[str, Any]:
        """The lineage summary a copied version carries from its source environment.

        It holds the source version (``source``), its evaluation (``evaluation``) and its
        upstream lineage in the source store (``upstream``: runs, dataset versions,
        features…, each with its environment-qualified ``uri``).

        Raises:
            NotFoundError: the version was not copied from another environment.

        Example:
            >>> client.copy_lineage("churn", 1)["source"]["uri"]  # doctest: +SKIP
            'dev:models:/churn/2'
        """
        with self.store.read() as conn:
            found: dict[str, Any] = _copy.read_lineage(conn, self.artifact_store, name, version)
        return found

    # -- evaluations -------------------------------------------------------------------

    def save_evaluation(
        self,
        record: Mapping[str, Any],
        *,
        move_status: bool = True,
        dataset_node: Node | None = None,
        figures: Mapping[str, FigureLike] | None = None,
    ) -> str:
        """Store one evaluation; for a registered version with gates, move its status.

        Args:
            record: the ``model_evaluations`` columns: ``model_uri``, ``data``,
                ``target``, ``task``, ``metrics`` (required), ``model``, ``version``
                (filled from a ``models:/`` URI when left out), ``slices``
                (``{slice: {group: {metric: number or None}}}``), ``champion``,
                ``gates`` (``[{"expression", "passed", "skipped", "reason", …}]``),
                ``passed``, ``notes`` (a list of strings).
            move_status: when a version was evaluated with gates (``passed`` is not
                ``None``), move a registered/validated/rejected version to validated
                (passed) or rejected (failed).
            dataset_node: the data's lineage node, e.g. ``("dataset_version", "iris/3")``.
            figures: name -> plotly figure (or its JSON), stored in the artifact store as
                the evaluation's files ``figures/<name>.json``; read them back with
                :meth:`evaluation_figures`.

        Returns:
            The evaluation's id.

        Example:
            >>> client.save_evaluation({  # doctest: +SKIP
            ...     "model_uri": "models:/churn/4", "data": "datasets:/churn/7",
            ...     "target": "left", "task": "classification",
            ...     "metrics": {"accuracy": 0.93}, "passed": True,
            ...     "gates": [{"expression": "accuracy >= 0.9", "passed": True}]})
            '01J0...'
        """
        return self.record_evaluation(
            record, move_status=move_status, dataset_node=dataset_node, figures=figures
        ).id

    def record_evaluation(
        self,
        record: Mapping[str, Any],
        *,
        move_status: bool = True,
        dataset_node: Node | None = None,
        figures: Mapping[str, FigureLike] | None = None,
    ) -> SavedEvaluation:
        """:meth:`save_evaluation`, saying also the version's status after it.

        The status is the one the save's own transaction set or kept, so a caller needs
        no second lookup (and sees no other writer's later move).

        Example:
            >>> saved = client.record_evaluation(record)  # doctest: +SKIP
            >>> saved.status  # doctest: +SKIP
            'validated'
        """
        actor = current_actor()
        stored = {}
        for name, figure in (figures or {}).items():
            _evaluations.check_figure_name(name)
            stored[name] = self.artifact_store.put_bytes(figure_json(figure).encode("utf-8"))
        return self._write(
            lambda conn: _evaluations.save(
                conn,
                record,
                move_status=move_status,
                dataset_node=dataset_node,
                actor=actor,
                figures=stored,
            )
        )

    def evaluation_figures(self, evaluation_id: str) -> dict[str, dict[str, Any]]:
        """The figures stored with an evaluation: name -> plotly JSON (``data``, ``layout``).

        Draw one with ``plotly.io.from_json(json.dumps(spec))``, or a page of them with
        :func:`loopml.render.figure_page`.

        Example:
            >>> sorted(client.evaluation_figures(result.id))  # doctest: +SKIP
            ['calibration_curve', 'confusion_matrix', 'precision_recall_curve', 'roc_curve']
        """
        import json

        digests = self.get_evaluation(evaluation_id)["figures"]
        return {
            name: json.loads(self.artifact_store.get_bytes(digest).decode("utf-8"))
            for name, digest in digests.items()
        }

    def list_evaluations(self, name: str, version: int) -> list[dict[str, Any]]:
        """Every stored evaluation of a version, newest first, as dicts of their columns.

        Example:
            >>> client.list_evaluations("churn", 4)[0]["metrics"]["accuracy"]  # doctest: +SKIP
            0.93
        """
        with self.store.read() as conn:
            return _evaluations.list_for_version(conn, name, version)

    def get_evaluation(self, evaluation_id: str) -> dict[str, Any]:
        """One stored evaluation by id.

        Example:
            >>> client.get_evaluation(evaluation_id)["passed"]  # doctest: +SKIP
            True
        """
        with self.store.read() as conn:
            return _evaluations.get(conn, evaluation_id)

    # -- events and webhooks -----------------------------------------------------------

    def list_events(
        self,
        after: int = 0,
        limit: int = 100,
        model: str | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[RegistryEvent]:
        """Registry events after the cursor ``after``, oldest first.

        Page through them by passing the last event's ``id`` as the next ``after``.

        Example:
            >>> page = client.list_events(after=0, limit=2, kinds=["alias.set"])  # doctest: +SKIP
            >>> client.list_events(after=page[-1].id)  # the next page  # doctest: +SKIP
        """
        with self.store.read() as conn:
            return events.list_events(conn, after=after, limit=limit, model=model, kinds=kinds)

    def add_webhook(
        self,
        url: str,
        events: Iterable[str] = (),
        model: str | None = None,
        secret: str | None = None,
    ) -> Webhook:
        """POST registry events from now on to ``url`` (in order, at least once).

        Args:
            url: an ``http://`` or ``https://`` URL.
            events: the kinds to deliver (empty: all).
            model: only this model's events.
            secret: signs each body: ``X-Loopml-Signature: sha256=<HMAC-SHA256>``.

        Example:
            >>> client.add_webhook("https://ci.example.com/hooks")  # doctest: +SKIP
            Webhook(id='01J0...', url='https://ci.example.com/hooks', ...)
        """
        actor = current_actor()

        def work(conn: Connection) -> Webhook:
            hook = webhooks.add(conn, url, kinds=events, model=model, secret=secret, actor=actor)
            details = {"url": hook.url, "events": list(hook.events), "model": hook.model}
            audit(conn, action="webhook.added", object_kind="webhook", object_id=hook.id,
                  details=details, actor=actor)  # fmt: skip
            return hook

        hook = self.store.transact(work)
        webhooks.dispatcher_for(self.store).webhooks_changed()
        return hook

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook with its cursor, failures and last error.

        Example:
            >>> [(h.url, h.failures) for h in client.list_webhooks()]  # doctest: +SKIP
            [('https://ci.example.com/hooks', 0)]
        """
        with self.store.read() as conn:
            return webhooks.list_all(conn)

    def remove_webhook(self, webhook_id: str) -> Webhook:
        """Stop delivering to a webhook and forget it.

        Raises:
            NotFoundError: no such webhook (listing the webhooks there are).

        Example:
            >>> client.remove_webhook(hook.id).url  # doctest: +SKIP
            'https://ci.example.com/hooks'
        """
        actor = current_actor()

        def work(conn: Connection) -> Webhook:
            hook = webhooks.remove(conn, webhook_id)
            audit(conn, action="webhook.removed", object_kind="webhook", object_id=hook.id,
                  details={"url": hook.url}, actor=actor)  # fmt: skip
            return hook

        hook = self.store.transact(work)
        webhooks.dispatcher_for(self.store).webhooks_changed()
        return hook

    def deliver_pending(self, timeout: float = 10.0) -> bool:
        """Deliver every pending webhook event now, waiting at most ``timeout`` seconds.

        Returns:
            True when every webhook is up to date; False when time ran out (delivery
            goes on in the background; nothing is lost).

        Example:
            >>> client.deliver_pending(timeout=5)  # doctest: +SKIP
            True
        """
        return webhooks.dispatcher_for(self.store).deliver_pending(timeout)

    # -- internals ---------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction (again, if a concurrent writer won a unique
        key first), then wake the webhook dispatcher."""
        for attempt in range(_ATTEMPTS):
            try:
                result = self.store.transact(work)
                break
            except SqlIntegrityError as err:
                if attempt == _ATTEMPTS - 1:
                    raise ConflictError(
                        "the registry kept changing under this write (other writers at the "
                        "same moment); try again",
                        details={"reason": str(err.orig)},
                    ) from err
                time.sleep(random.uniform(0.002, 0.02) * (attempt + 1))
        webhooks.dispatcher_for(self.store).wake()
        return result

    def _read_source(self, source: Source) -> _sources.PackageSource:
        if isinstance(source, PackageInfo):
            source = source.uri
        if isinstance(source, str) and ":/" in source and not os.path.isdir(source):
            uri = parse_uri(source)
            with self.store.read() as conn:
                return _sources.from_run(conn, self.artifact_store, uri)
        if not isinstance(source, str | os.PathLike):
            raise InvalidInputError(
                f"cannot register a {type(source).__name__}; give runs:/<run_id>/<path> or "
                "a package folder (log the model first with loopml.log_model)"
            )
        return _sources.from_folder(self.artifact_store, Path(source))


def _check_status(status: VersionStatus | str) -> VersionStatus:
    try:
        return VersionStatus(status)
    except ValueError:
        raise InvalidInputError(
            f"unknown status {status!r}; statuses: {', '.join(s.value for s in VersionStatus)}"
        ) from None


def _no_removals(tags: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if value is not None}


def _refuse_archived(row: Row, doing: str) -> None:
    if row["status"] == VersionStatus.ARCHIVED.value:
        raise ConflictError(
            f"{model_uri(row['model'], int(row['version']))} is archived; cannot {doing}; "
            "use a version that is not archived (list_versions)",
            details={"model": row["model"], "version": row["version"]},
        )


def _role_event(conn: Connection, kind: str, user: str, role: str, actor: str) -> None:
    events.record(conn, kind, "", None, {"user": user, "role": role}, actor=actor,
                  object_kind="role", object_id=f"{user}:{role}")  # fmt: skip
