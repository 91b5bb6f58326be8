"""The model registry on a loopml server: ``LOOPML_TRACKING_URI=http://host:5000``.

:class:`RemoteRegistryClient` answers the :class:`~loopml.registry.client.RegistryClient`
calls the server's REST API (``/api/v1``) covers, returning the same value objects, so
``loopml models …`` and ``loopml.registry_client()`` work against a team's server. The
server checks the caller's role (``LOOPML_TRACKING_TOKEN``) and writes the audit rows.

Calls with no REST route yet (registering a version, roles, webhooks, copying between
environments, storing evaluations) raise :class:`~loopml.errors.InvalidInputError` saying
so: run those on the server's machine, against its store.

Example:
    >>> settings = Settings.load(tracking_uri="http://127.0.0.1:5000")
    >>> client = RemoteRegistryClient(settings)  # doctest: +SKIP
    >>> client.set_alias("churn", "staging", 4).version  # doctest: +SKIP
    4
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn
from urllib.parse import quote

from loopml._remote import TOKEN_ENV, JsonHttp, is_remote, not_on_server, unavailable_call
from loopml.config import Settings
from loopml.errors import InvalidInputError, NotFoundError
from loopml.paging import Page, iter_pages
from loopml.registry.client import ANY, RegistryClient
from loopml.registry.models import (
    AliasChange,
    Approval,
    ModelVersion,
    PromotionPolicy,
    RegisteredModel,
    RegistryEvent,
    VersionStatus,
)
from loopml.uris import is_uri, parse_uri

__all__ = ["RemoteRegistryClient"]

_API = "/api/v1"


class RemoteRegistryClient:
    """The registry calls of :class:`~loopml.registry.client.RegistryClient`, on a server.

    Args:
        settings: ``settings.tracking_uri`` is the server.
        token: the API token (default ``$LOOPML_TRACKING_TOKEN``).

    Raises:
        InvalidInputError: ``settings.tracking_uri`` is not an ``http(s)://`` URL.
    """

    def __init__(
        self, settings: Settings, *, token: str | None = None, http: JsonHttp | None = None
    ) -> None:
        """``http``: a connection to the server to share (the remote tracking client's),
        else one of its own (closed by :meth:`close`)."""
        if not is_remote(settings.tracking_uri):
            raise InvalidInputError(
                f"tracking URI {settings.tracking_uri!r} is not a server URL; use http://HOST:PORT"
            )
        self.settings = settings
        self.url = str(settings.tracking_uri).rstrip("/")
        self.http = http or JsonHttp(self.url, token or os.environ.get(TOKEN_ENV))

    # -- models and versions -----------------------------------------------------------

    def get_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.from_dict(self._get(f"/models/{_q(name)}"))

    def page_models(
        self, *, limit: int = 100, page_token: str | None = None
    ) -> Page[RegisteredModel]:
        found = self._get("/models", limit=limit, page_token=page_token)
        items = [RegisteredModel.from_dict(m) for m in found["models"]]
        return Page(items, found.get("next_page_token"))

    def list_models(self) -> list[RegisteredModel]:
        return list(iter_pages(lambda token: self.page_models(limit=1000, page_token=token)))

    def get_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.from_dict(self._get(_version_path(name, version)))

    def page_versions(
        self,
        name: str,
        status: VersionStatus | str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        found = self._get(
            f"/models/{_q(name)}/versions",
            status=None if status is None else str(status),
            limit=limit,
            page_token=page_token,
        )
        items = [ModelVersion.from_dict(v) for v in found["versions"]]
        return Page(items, found.get("next_page_token"))

    def list_versions(
        self, name: str, status: VersionStatus | str | None = None
    ) -> list[ModelVersion]:
        return list(
            iter_pages(lambda token: self.page_versions(name, status, limit=1000, page_token=token))
        )

    def register(
        self,
        source: Any,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        onnx: bool | str = False,
    ) -> ModelVersion:
        """Register the package logged at ``runs:/<run_id>/<path>`` (or the ``PackageInfo``
        ``log_model`` returned) as the next version of ``name``, on the server."""
        uri = getattr(source, "uri", source)
        if not isinstance(uri, str) or not is_uri(uri, "runs"):
            not_on_server("register(<a local folder>)", self.url)
        body = {
            "source": uri,
            "description": description,
            "tags": dict(tags) if tags else None,
            "onnx": onnx if isinstance(onnx, bool) else str(onnx),
        }
        return ModelVersion.from_dict(self._post(f"/models/{_q(name)}/versions", body))

    def resolve(self, uri: str) -> ModelVersion:
        """The version ``models:/name/3`` or ``models:/name@alias`` names."""
        parsed = parse_uri(uri)
        if parsed.scheme != "models" or parsed.path or parsed.name is None:
            raise InvalidInputError(
                f"'{uri}' does not name a model version; give models:/<name>/<version> or "
                "models:/<name>@<alias>"
            )
        if parsed.alias is None:
            if parsed.version is None:
                raise InvalidInputError(f"'{uri}' names no version; add /<version> or @<alias>")
            return self.get_version(parsed.name, parsed.version)
        aliases = self.get_model(parsed.name).aliases
        if parsed.alias not in aliases:
            raise NotFoundError(
                "alias",
                f"{parsed.name}@{parsed.alias}",
                choices=[f"{parsed.name}@{a}" for a in aliases],
                hint=f"aliases of '{parsed.name}': {', '.join(sorted(aliases)) or 'none'}",
            )
        return self.get_version(parsed.name, aliases[parsed.alias])

    def set_status(
        self, name: str, version: int, status: VersionStatus | str, *, reason: str | None = None
    ) -> ModelVersion:
        body = {"status": str(status), "reason": reason}
        return ModelVersion.from_dict(self._post(_version_path(name, version) + "/status", body))

    def archive(self, name: str, version: int, *, reason: str | None = None) -> ModelVersion:
        return self.set_status(name, version, VersionStatus.ARCHIVED, reason=reason)

    # -- aliases -----------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str | None = None,
        expected: Any = ANY,
    ) -> AliasChange:
        body: dict[str, Any] = {"version": version, "reason": reason}
        if expected is not ANY:
            body["expected"] = expected
        path = f"{_API}/models/{_q(name)}/aliases/{_q(alias)}"
        return AliasChange.from_dict(self.http.request("PUT", path, body))

    def remove_alias(
        self, name: str, alias: str, *, reason: str | None = None, expected: Any = ANY
    ) -> AliasChange:
        if expected is not ANY:
            not_on_server("remove_alias(expected=...)", self.url)
        path = f"{_API}/models/{_q(name)}/aliases/{_q(alias)}"
        found = self.http.request("DELETE", path, query={"reason": reason})
        return AliasChange.from_dict(found)

    def list_alias_changes(self, name: str, alias: str | None = None) -> list[AliasChange]:
        found = self._get(f"/models/{_q(name)}/alias-history", alias=alias)
        return [AliasChange.from_dict(c) for c in found["changes"]]

    def alias_at(self, name: str, alias: str, at_ms: int) -> int | None:
        found = self._get(f"/models/{_q(name)}/alias-history", alias=alias, at=at_ms)
        version = found["version"]
        return None if version is None else int(version)

    # -- governance --------------------------------------------------------------------

    def get_policy(self, name: str) -> PromotionPolicy:
        return PromotionPolicy.from_dict(self._get(f"/models/{_q(name)}/policy"))

    def set_policy(self, name: str, policy: PromotionPolicy | Mapping[str, Any]) -> PromotionPolicy:
        body = policy.to_dict() if isinstance(policy, PromotionPolicy) else dict(policy)
        path = f"{_API}/models/{_q(name)}/policy"
        return PromotionPolicy.from_dict(self.http.request("PUT", path, body))

    def approve(
        self, name: str, version: int, *, comment: str | None = None, actor: str | None = None
    ) -> Approval:
        """Approve as the token's user (``actor`` must be ``None``: the server knows who)."""
        _no_actor(actor)
        path = _version_path(name, version) + "/approve"
        return Approval.from_dict(self._post(path, {"comment": comment}))

    def reject(
        self, name: str, version: int, *, comment: str, actor: str | None = None
    ) -> Approval:
        """Reject as the token's user, saying why."""
        _no_actor(actor)
        path = _version_path(name, version) + "/reject"
        return Approval.from_dict(self._post(path, {"comment": comment}))

    def list_approvals(self, name: str, version: int) -> list[Approval]:
        found = self._get(_version_path(name, version) + "/approvals")
        return [Approval.from_dict(a) for a in found["approvals"]]

    def promotion_blockers(self, name: str, version: int, alias: str = "production") -> list[str]:
        found = self._get(_version_path(name, version) + "/blockers", alias=alias)
        return [str(reason) for reason in found["blockers"]]

    def promote(
        self,
        name: str,
        version: int,
        alias: str = "production",
        *,
        reason: str | None = None,
        archive_previous: bool = False,
    ) -> ModelVersion:
        body = {"alias": alias, "reason": reason, "archive_previous": archive_previous}
        return ModelVersion.from_dict(self._post(_version_path(name, version) + "/promote", body))

    # -- evaluations and events --------------------------------------------------------

    def list_evaluations(self, name: str, version: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get(_version_path(name, version) + "/evaluations")[
            "evaluations"
        ]
        return found

    def get_evaluation(self, evaluation_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/evaluations/{_q(evaluation_id)}")
        return found

    def list_events(
        self,
        after: int = 0,
        limit: int = 100,
        model: str | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[RegistryEvent]:
        query = [("after", after), ("limit", limit), ("model", model)]
        query += [("kind", kind) for kind in kinds or ()]
        found = self.http.request("GET", f"{_API}/registry/events", query=query)
        return [RegistryEvent.from_dict(e) for e in found["events"]]

    def card_text(self, name: str, version: int, shape: str = "markdown") -> str:
        """A version's model card as the server renders it: ``markdown`` or ``html`` (the
        text :func:`loopml.registry.card.model_card` gives on the server's store)."""
        path = _API + _version_path(name, version) + "/card"
        data: bytes = self.http.request("GET", path, query={"format": shape}, decode=False)
        return data.decode("utf-8")

    def deliver_pending(self, timeout: float = 10.0) -> bool:
        """Nothing to deliver here: the server sends its webhooks itself."""
        return True

    def close(self) -> None:
        self.http.close()

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        """A :class:`RegistryClient` call with no REST route yet refuses, saying so."""
        return unavailable_call(self, RegistryClient, name)

    # -- requests ----------------------------------------------------------------------

    def _get(self, path: str, **query: Any) -> Any:
        return self.http.request("GET", _API + path, query=query)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self.http.request("POST", _API + path, body)


def _no_actor(actor: str | None) -> None:
    if actor is not None:
        raise InvalidInputError(
            f"actor {actor!r} cannot be given against a server: a decision is the token's "
            "user's; use that user's token (LOOPML_TRACKING_TOKEN)"
        )


def _version_path(name: str, version: int) -> str:
    return f"/models/{_q(name)}/versions/{int(version)}"


def _q(part: str) -> str:
    return quote(part, safe="")
