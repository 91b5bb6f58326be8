"""Endpoints that follow their deployment: alias moves and policy changes swap them live.

A :class:`Follower` watches two things for the endpoints of one process: the registry's
events after a cursor (``alias.set``, ``alias.removed``,
``model_version.promoted``: an alias moved) and each stored
deployment's revision (its policy, payload-log settings or resources changed). When what
an endpoint should serve differs from what it serves, the follower loads the new
version(s) beside the old ones (reusing every version already loaded in this process),
checks each new one on its package's input example, and swaps the endpoint's routing in
one assignment; requests already running finish on the version they picked, and the old
version is freed when the last of them lets go. A version that fails to load or fails its
check is refused: the endpoint keeps serving what it served, and the failure is logged
and returned. Rollback is the same path: move the alias back.

Example:
    >>> endpoint = open_endpoint("churn-api", settings)  # doctest: +SKIP
    >>> follower = start_following([endpoint], settings, poll_seconds=1.0)  # doctest: +SKIP
    >>> follower.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from loopml.clock import now_ms
from loopml.config import Settings
from loopml.errors import InvalidInputError, LoopmlError, NotFoundError, StoreError
from loopml.registry import RegistryClient
from loopml.registry.events import head as event_head
from loopml.serving.control import Loaded, load_targets
from loopml.serving.deployments import DeploymentClient
from loopml.serving.policy import Resources
from loopml.serving.runtime import Endpoint, Routing, ServedVersion

__all__ = ["Follower", "SwapResult", "start_following"]

log = logging.getLogger("loopml.serving")

# The events that move an alias: a plain move, a removal, and a promotion (which moves
# a protected alias such as production).
ALIAS_EVENTS = ("alias.set", "alias.removed", "model_version.promoted")
_PAGE = 1000
OnSwap = Callable[[Endpoint, Routing, Routing], None]


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What one look at an endpoint found: a swap, a refusal, or nothing to do.

    Attributes:
        endpoint: the endpoint's name.
        swapped: whether its routing was replaced.
        targets: what it serves afterwards (``{"@production": 3}``).
        revision: the deployment revision it serves afterwards.
        error: why the new routing was refused (``None`` when nothing failed).
    """

    endpoint: str
    swapped: bool
    targets: dict[str, int] = field(default_factory=dict)
    revision: int = 0
    error: str | None = None


class Follower:
    """Keeps endpoints following their deployments; one per serving process.

    Args:
        endpoints: the process's endpoints (stored deployments and ad-hoc ones).
        settings: where the registry and the deployments live.
        poll_seconds: how often the background thread looks (:meth:`start`).
        on_swap: called as ``on_swap(endpoint, old, new)`` after each swap (metrics).
        on_poll: called after each background look (the monitor gauges' refresh).
        trusted: type and class names trusted when loading new versions (``--trust``).

    :meth:`poll` looks once, now; :meth:`start` looks every ``poll_seconds`` in a
    daemon thread until :meth:`stop`.
    """

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        settings: Settings,
        *,
        poll_seconds: float = 2.0,
        on_swap: OnSwap | None = None,
        trusted: Sequence[str] = (),
        on_poll: Callable[[], None] | None = None,
    ) -> None:
        if isinstance(poll_seconds, bool) or not isinstance(poll_seconds, int | float):
            raise InvalidInputError(f"poll_seconds must be a number, got {poll_seconds!r}")
        if not 0.01 <= poll_seconds <= 3600:
            raise InvalidInputError(f"poll_seconds must be 0.01-3600, got {poll_seconds!r}")
        self.endpoints = list(endpoints)
        self.poll_seconds = float(poll_seconds)
        self.on_swap = on_swap
        self.on_poll = on_poll
        self.trusted = tuple(trusted)
        self.deployments = DeploymentClient(settings)
        self.registry: RegistryClient = self.deployments.registry
        self.cursor = self._event_head()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._record_all()

    # -- running -----------------------------------------------------------------------

    def start(self) -> Follower:
        """Look every ``poll_seconds`` in a background thread (once started, no-op)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="loopml-follower", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop looking (waiting at most ``timeout`` seconds for a look under way)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poll(self, *, everything: bool = False) -> list[SwapResult]:
        """Look once: read new alias events and deployment revisions, swap what changed.

        Args:
            everything: look at every endpoint, not only those an event or a revision
                points at (what :func:`start_following` does first, to catch changes
                made while the endpoints were loading).

        Returns:
            One :class:`SwapResult` per endpoint looked at.
        """
        with self._lock:
            moved, cursor = self._moved_since(self.cursor)
            results = []
            for endpoint in self.endpoints:
                revision = self._stored_revision(endpoint)
                stale = revision is not None and revision != endpoint.routing.revision
                if everything or stale or endpoint.model in moved:
                    results.append(self._follow(endpoint))
            # Only now: if the database failed half-way, the next look sees these events again.
            self.cursor = cursor
            return results

    def _run(self) -> None:
        self._after_poll()
        while not self._stopping.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # a database hiccup must not end following for good
                log.exception("following deployments failed; trying again")
            self._after_poll()

    def _after_poll(self) -> None:
        if self.on_poll is None:
            return
        try:
            self.on_poll()
        except Exception:  # what rides on the poll must never end following
            log.exception("the work after a poll failed; trying again next poll")

    # -- one endpoint ------------------------------------------------------------------

    def _follow(self, endpoint: Endpoint) -> SwapResult:
        old = endpoint.routing
        try:
            routing = self._wanted(endpoint, old)
        except StoreError:
            raise  # the database, not the version: look again next time
        except Exception as err:  # whatever stops a version from loading refuses it
            message = (
                err.message if isinstance(err, LoopmlError) else f"{type(err).__name__}: {err}"
            )
            log.error("endpoint %s keeps serving %s: %s", endpoint.name, _served(old), message)
            return SwapResult(endpoint.name, False, _served(old), old.revision, message)
        if _same(old, routing):
            return SwapResult(endpoint.name, False, _served(old), old.revision)
        endpoint.swap(routing)
        log.info(
            "endpoint %s now serves %s (was %s), revision %s",
            endpoint.name, _served(routing), _served(old), routing.revision,
        )  # fmt: skip
        self._record(endpoint)
        if self.on_swap is not None:
            try:
                self.on_swap(endpoint, old, routing)
            except Exception:
                log.exception("on_swap failed for endpoint %s", endpoint.name)
        return SwapResult(endpoint.name, True, _served(routing), routing.revision)

    def _wanted(self, endpoint: Endpoint, old: Routing) -> Routing:
        """The routing ``endpoint`` should have now, new versions loaded and checked."""
        loaded = self._loaded()
        if endpoint.deployment is None:
            targets = self._resolve_ad_hoc(endpoint, old)
            served = self._load(endpoint.model, targets, loaded, old.resources)
            return Routing(old.policy, served, old.payload_log, old.resources, old.revision)
        deployment = self.deployments.get(endpoint.deployment)
        targets = self.deployments.resolve(deployment)
        new = deployment.resources
        if (new.runtime, new.device) != (old.resources.runtime, old.resources.device):
            loaded = {}  # loaded for another runtime or device: load afresh
        served = self._load(deployment.model, targets, loaded, new)
        return Routing(
            deployment.policy, served, deployment.payload_log, deployment.resources,
            deployment.revision,
        )  # fmt: skip

    def _load(
        self, model: str, targets: dict[str, int], loaded: Loaded, resources: Resources
    ) -> dict[str, ServedVersion]:
        return load_targets(
            self.registry,
            model,
            targets,
            loaded,
            trusted=self.trusted,
            runtime=resources.runtime,
            device=resources.device,
        )

    def _resolve_ad_hoc(self, endpoint: Endpoint, old: Routing) -> dict[str, int]:
        aliases = self.registry.get_model(endpoint.model).aliases
        targets = {}
        for route in old.policy.targets():
            if route.alias is None:
                targets[route.target] = old.targets[route.target].version
            elif route.alias in aliases:
                targets[route.target] = aliases[route.alias]
            else:
                raise InvalidInputError(
                    f"alias {endpoint.model}@{route.alias} was removed; point it at a version "
                    "again to change what this endpoint serves"
                )
        return targets

    def _loaded(self) -> dict[tuple[str, int], ServedVersion]:
        """Every version this process has loaded now, to reuse instead of loading again."""
        loaded: dict[tuple[str, int], ServedVersion] = {}
        for endpoint in self.endpoints:
            for served in endpoint.routing.targets.values():
                loaded.setdefault((served.model, served.version), served)
        return loaded

    # -- what changed ------------------------------------------------------------------

    def _event_head(self) -> int:
        with self.registry.store.read() as conn:
            return event_head(conn)

    def _moved_since(self, cursor: int) -> tuple[set[str], int]:
        """The models whose aliases moved after event ``cursor``, and the new cursor."""
        moved: set[str] = set()
        while batch := self.registry.list_events(after=cursor, limit=_PAGE, kinds=ALIAS_EVENTS):
            moved.update(event.model for event in batch)
            cursor = batch[-1].id
        return moved, cursor

    def _stored_revision(self, endpoint: Endpoint) -> int | None:
        """The stored revision of the endpoint's deployment (``None``: ad hoc or gone)."""
        if endpoint.deployment is None:
            return None
        try:
            return self.deployments.get(endpoint.deployment).revision
        except NotFoundError as err:
            log.warning("endpoint %s keeps serving: %s", endpoint.name, err)
            return None

    # -- served ranges -----------------------------------------------------------------

    def _record_all(self) -> None:
        for endpoint in self.endpoints:
            self._record(endpoint)

    def _record(self, endpoint: Endpoint) -> None:
        if endpoint.deployment is None:
            return
        try:
            self.deployments.record_served(endpoint.deployment, _served(endpoint.routing), now_ms())
        except LoopmlError as err:  # serving goes on; the ranges miss this report
            log.warning("could not record what %s serves: %s", endpoint.name, err)


def start_following(
    endpoints: Sequence[Endpoint],
    settings: Settings,
    poll_seconds: float = 2.0,
    *,
    on_swap: OnSwap | None = None,
    trusted: Sequence[str] = (),
    on_poll: Callable[[], None] | None = None,
) -> Follower:
    """Follow ``endpoints``' deployments in a background thread; ``stop()`` it at shutdown.

    Looks at every endpoint once before returning, so a change made while they were
    loading is not missed, then every ``poll_seconds``.

    Example:
        >>> follower = start_following([endpoint], settings, poll_seconds=1)  # doctest: +SKIP
        >>> follower.stop()  # doctest: +SKIP
    """
    follower = Follower(
        endpoints, settings, poll_seconds=poll_seconds, on_swap=on_swap, trusted=trusted,
        on_poll=on_poll,
    )  # fmt: skip
    follower.poll(everything=True)
    return follower.start()


def _served(routing: Routing) -> dict[str, int]:
    return {target: served.version for target, served in routing.targets.items()}


def _same(old: Routing, new: Routing) -> bool:
    return (
        old.policy == new.policy
        and old.payload_log == new.payload_log
        and old.resources == new.resources
        and old.revision == new.revision
        and {t: id(s) for t, s in old.targets.items()} == {t: id(s) for t, s in new.targets.items()}
    )
