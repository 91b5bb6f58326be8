"""One client of a component per process, on the fluent tracking API's settings."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from loopml.config import Settings
from loopml.tracking.fluent import default_client

__all__ = ["SharedClient"]


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

    def __init__(self, make: Callable[[Settings], _C]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._client: _C | None = None

    def get(self) -> _C:
        """The client on the current fluent settings (made, or remade, as needed)."""
        settings = default_client().settings
        with self._lock:
            if self._client is None or self._client.settings != settings:
                self._client = self._make(settings)
            return self._client
