"""One client of a component per process, on the fluent tracking API's settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from loopml._remote import JsonHttp, is_remote
from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.tracking.fluent import default_client

__all__ = ["SharedClient", "shared_http"]


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


_C = TypeVar("_C", bound=_HasSettings)


class SharedClient(Generic[_C]):
    """Makes a client once and remakes it when the fluent API's settings change.

    Example:
        >>> from loopml.data.versions import DatasetClient
        >>> shared = SharedClient(DatasetClient)
        >>> shared.get() is shared.get()  # doctest: +SKIP
        True
    """

    def __init__(
        self, make: Callable[[Settings], _C], *, what: str = "this call", remote_ok: bool = False
    ) -> None:
        self._make = make
        self._what = what
        self._remote_ok = remote_ok  # ``make`` gives a server's client for a server's settings
        self._lock = threading.Lock()
        self._client: _C | None = None

    def get(self) -> _C:
        """The client on the current fluent settings (made, or remade, as needed).

        Raises:
            InvalidInputError: the settings name a tracking server, and this component
                does not talk to servers yet (reading the local store instead would
                mislead: the runs are on the server); not when made with ``remote_ok``.
        """
        settings = default_client().settings
        if is_remote(settings.tracking_uri) and not self._remote_ok:
            raise InvalidInputError(
                f"{self._what} does not work against a loopml server yet "
                f"(LOOPML_TRACKING_URI={settings.tracking_uri}); runs, params, metrics and "
                "artifacts do. Run it where the store is (unset LOOPML_TRACKING_URI), or use "
                f"the server's REST API ({settings.tracking_uri}/api/openapi.json)"
            )
        with self._lock:
            if self._client is None or self._client.settings != settings:
                self._client = self._make(settings)
            return self._client


def shared_http(settings: Settings) -> JsonHttp | None:
    """The fluent API's connection to the server ``settings`` names, to share with the other
    components' remote clients (it is closed with that client, at exit or when the settings
    change); ``None`` when the fluent client talks to another server or to none."""
    client = default_client()
    http = getattr(client, "http", None)
    if isinstance(http, JsonHttp) and http.url == str(settings.tracking_uri).rstrip("/"):
        return http
    return None
