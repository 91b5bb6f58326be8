"""The server process: bind, load every model, listen, then serve with one or more workers.

:func:`serve` binds the port first (a taken port fails at once), loads every endpoint's
models, and only then listens (so no connection is accepted before the models are
ready), then serves:

- one worker: uvicorn (httptools, uvloop) in this process;
- ``workers=N``: N pre-forked worker processes, each listening on its own socket bound
  with ``SO_REUSEPORT``, so the kernel spreads connections over them (the parent's socket
  only holds the port, and the parent announces the server once every worker listens).
  One listening socket shared by all workers was measured first: with 16 kept-alive
  connections it often handed all 16 to one worker (1600/0 requests in two of four runs),
  where ``SO_REUSEPORT`` split them 800/800 to 500/1100. Without ``SO_REUSEPORT`` (not
  Linux or BSD) the workers share one socket. The parent restarts a worker that dies, and
  stops them all on SIGTERM or SIGINT; a worker also gets SIGTERM when the parent dies
  (``PR_SET_PDEATHSIG``), so none is ever orphaned. Forked workers share the loaded
  models' memory copy-on-write.

Every accepted connection gets ``TCP_NODELAY``: asyncio sets it only for sockets whose
``proto`` is ``IPPROTO_TCP``, which a socket bound by hand (as uvicorn's multi-worker mode
does) is not, and without it Nagle's algorithm and the client's delayed ACK hold each
reply on a kept-alive connection for ~40 ms.

SIGTERM and SIGINT stop gracefully: no new connections, in-flight requests finish (up
to ``graceful_timeout`` seconds), the shadow queue and payload-log sinks are flushed.

Example:
    >>> serve(["models:/churn@staging"], port=8080, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError
from loopml.monitoring.payload import PredictionSink
from loopml.serving.app import ServerLimits, ServingApp
from loopml.serving.control import open_endpoint
from loopml.serving.metrics import MULTIPROCESS_ENV
from loopml.serving.policy import Resources
from loopml.serving.runtime import Endpoint

if TYPE_CHECKING:
    from loopml.features import FeatureStore

__all__ = ["ServerOptions", "bind_socket", "nodelay_protocol", "serve", "tune_process"]

log = logging.getLogger("loopml.serving")

SinkFactory = Callable[[Sequence[Endpoint]], Mapping[str, PredictionSink]]
"""Builds each endpoint's payload-log sink; called in every worker after it starts."""


@dataclass(frozen=True)
class ServerOptions:
    """How :func:`serve` runs.

    Attributes:
        host, port: where to listen (port 0: any free port; ``on_ready`` gets the real one).
        workers: worker processes (1: serve in this process).
        limits: body size and timeout, shadow queue (see :class:`ServerLimits`).
        keep_alive: seconds an idle kept-alive connection stays open.
        graceful_timeout: seconds in-flight requests get to finish on shutdown.
        trusted: type and class names trusted when loading (see ``load_model``).
        sinks: makes each worker's payload-log sinks; by default each endpoint gets a
            :class:`~loopml.monitoring.PayloadWriter` (its deployment's settings decide
            what is kept), or nothing when ``payload_log`` is false.
        payload_log: log predictions at all (false: no writer, whatever the deployment says).
        resources: runtime, device and batching of ad-hoc (``models:/``) endpoints; a
            stored deployment runs on its own resources.
        follow: keep following aliases and deployment changes (swap without a restart).
        poll_seconds: how often the follower looks for changes.
        on_ready: called with the URL and endpoints once the socket listens.
        switch_interval: seconds a thread may hold the GIL before another waiting thread
            gets it, in each serving process (``sys.setswitchinterval``); ``None`` keeps
            CPython's 5 ms. Smaller values shorten the request thread's waits behind the
            payload log's writer (an identity model's p99 at one connection: 28 ms at 5 ms,
            2.3 ms at 0.2 ms), but then the writer falls behind under sustained load (7,341
            predictions queued after 10 s at 1,134 req/s, against ~1,200 at 5 ms) and would
            drop predictions once its queue is full; measure before you change it.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    limits: ServerLimits = field(default_factory=ServerLimits)
    keep_alive: float = 5.0
    graceful_timeout: float = 30.0
    trusted: Sequence[str] = ()
    sinks: SinkFactory | None = None
    payload_log: bool = True
    resources: Resources = field(default_factory=Resources)
    follow: bool = True
    poll_seconds: float = 2.0
    on_ready: Callable[[str, Sequence[Endpoint]], None] | None = None
    switch_interval: float | None = None

    def __post_init__(self) -> None:
        if self.switch_interval is not None and (
            isinstance(self.switch_interval, bool)
            or not isinstance(self.switch_interval, int | float)
            or not (1e-5 <= self.switch_interval <= 0.1)
        ):
            raise InvalidInputError(
                f"switch_interval must be 0.00001-0.1 seconds, got {self.switch_interval!r}"
            )
        if (
            isinstance(self.workers, bool)
            or not isinstance(self.workers, int)
            or not (1 <= self.workers <= 256)
        ):
            raise InvalidInputError(f"workers must be a whole number 1-256, got {self.workers!r}")
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not (0 <= self.port <= 65535)
        ):
            raise InvalidInputError(f"port must be 0-65535, got {self.port!r}")


def serve(specs: Sequence[str], options: ServerOptions | None = None, *,
          settings: Settings | None = None) -> None:  # fmt: skip
    """Serve ``specs`` (``models:/name@alias``, ``models:/name/3`` or deployment names)
    until SIGTERM or SIGINT.

    Raises:
        InvalidInputError: no spec, a spec served twice, bad options.
        NotFoundError: a model, version, alias or deployment that does not exist.
        ConflictError, InvalidInputError: the address cannot be bound (see :func:`bind_socket`).
    """
    options = options or ServerOptions()
    if not specs:
        raise InvalidInputError("give at least one model URI or deployment name to serve")
    settings = settings or Settings.load()
    with _metrics_folder(options.workers):
        _serve(specs, options, settings)


@contextlib.contextmanager
def _metrics_folder(workers: int) -> Iterator[None]:
    """With several workers, a fresh folder for their metric samples (removed at the end)."""
    if workers == 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    # set before any metric exists: every worker then writes its samples here
    folder = tempfile.mkdtemp(prefix="loopml-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _serve(specs: Sequence[str], options: ServerOptions, settings: Settings) -> None:
    reuse_port = options.workers > 1 and hasattr(socket, "SO_REUSEPORT")
    # Bound first (a taken port fails before minutes of loading), listening only once every
    # model is loaded. With SO_REUSEPORT this socket only holds the port and never listens:
    # each worker binds and listens on its own, and the kernel spreads connections over them.
    sock = bind_socket(options.host, options.port, listen=False, reuse_port=reuse_port)
    try:
        endpoints = [
            open_endpoint(spec, settings, trusted=options.trusted, resources=options.resources)
            for spec in specs
        ]
    except BaseException:
        sock.close()
        raise
    names = [endpoint.name for endpoint in endpoints]
    if len(set(names)) != len(names):
        sock.close()
        raise InvalidInputError(f"each endpoint is served once, got {names}")
    if not reuse_port:
        sock.listen(2048)
    url = _url(sock)
    if options.workers == 1:
        app = _build_app(endpoints, options, settings)
        if options.on_ready:
            options.on_ready(url, endpoints)
        with _stopped_by_signals():
            _run_uvicorn(app, sock, options)
        sock.close()
        return
    _Supervisor(endpoints, options, settings, sock, reuse_port=reuse_port).run(url)


def bind_socket(
    host: str, port: int, *, listen: bool = True, reuse_port: bool = False
) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``SO_REUSEADDR``, so a restart can rebind),
    listening unless ``listen`` is false; with ``reuse_port``, ``SO_REUSEPORT`` too.

    Raises:
        ConflictError: the address is taken by another process.
        InvalidInputError: the address cannot be bound (not this machine's, a privileged
            port); the message names it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        where = f"cannot listen on {host}:{port}: {err.strerror or err}"
        if err.errno == errno.EADDRINUSE:
            raise ConflictError(f"{where}; stop what holds it or pick another --port") from err
        raise InvalidInputError(f"{where}; check --host and --port") from err
    if listen:
        sock.listen(2048)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _build_app(
    endpoints: Sequence[Endpoint], options: ServerOptions, settings: Settings
) -> ServingApp:
    if options.sinks is not None:
        sinks = options.sinks(endpoints)
    elif options.payload_log:
        sinks = payload_writers(endpoints, settings)
    else:
        sinks = None
    app = ServingApp(
        endpoints,
        sinks=sinks,
        limits=options.limits,
        features=_feature_store(settings),
        settings=settings,
    )
    app.warm_up()
    start_worker_services(app, settings, options)
    return app


def payload_writers(endpoints: Sequence[Endpoint], settings: Settings) -> dict[str, PredictionSink]:
    """A payload-log writer per endpoint, in this process.

    The app applies each deployment's sampling and privacy settings before it hands a
    prediction over (they can change while serving), so the writers keep all they get.
    """
    from loopml.monitoring import PayloadWriter

    return {endpoint.name: PayloadWriter(settings, endpoint.name) for endpoint in endpoints}


def _feature_store(settings: Settings) -> FeatureStore:
    """The feature store versions trained on features read their inputs from."""
    from loopml.features import FeatureStore

    return FeatureStore(settings)


def start_worker_services(
    app: ServingApp, settings: Settings, options: ServerOptions | None = None
) -> None:
    """What runs beside the app in each serving process, once per process: the follower.

    It starts here, after the fork, because each worker holds its own endpoints and
    threads do not survive a fork; it stops when the app closes.
    """
    options = options or ServerOptions()
    if not options.follow:
        return
    from loopml.serving.follow import start_following

    follower = start_following(
        list(app.endpoints.values()),
        settings,
        poll_seconds=options.poll_seconds,
        on_swap=lambda endpoint, old, new: app.refresh_gauges(),
        trusted=options.trusted,
        on_poll=_monitor_gauges(app, settings),
    )
    app.on_close.append(follower.stop)


def _monitor_gauges(app: ServingApp, settings: Settings) -> Callable[[], None]:
    """Refreshes ``app.monitor_gauges``: the served deployments' monitors in Prometheus
    text (their latest window's drift and performance, and their alerts' states)."""
    from loopml.monitoring.gauges import gauges_text
    from loopml.store import open_store

    store = open_store(settings.db_url)
    served = sorted(app.endpoints)

    def refresh() -> None:
        app.monitor_gauges = gauges_text(store, served).encode("utf-8")

    return refresh


def tune_process(options: ServerOptions) -> None:
    """Process-wide settings of a serving process, set before it takes requests."""
    if options.switch_interval is not None:
        sys.setswitchinterval(options.switch_interval)


def _run_uvicorn(
    app: ServingApp,
    sock: socket.socket,
    options: ServerOptions,
    on_started: Callable[[], None] | None = None,
) -> None:
    import uvicorn

    tune_process(options)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()  # listening now

    config = uvicorn.Config(
        app,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=nodelay_protocol(),
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=int(max(1, options.keep_alive)),
        timeout_graceful_shutdown=int(max(1, options.graceful_timeout)),
        server_header=False,
        date_header=False,
    )
    Server(config).run(sockets=[sock])


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def nodelay_protocol() -> type[Any]:
    """uvicorn's HTTP protocol, setting ``TCP_NODELAY`` on every accepted connection."""
    if _has("httptools"):
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    else:  # pragma: no cover - httptools ships with the serving extra
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class NoDelayProtocol(Base):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelayProtocol


class _Supervisor:
    """The parent of N forked workers: starts them, restarts the dead, stops them all."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        options: ServerOptions,
        settings: Settings,
        sock: socket.socket,
        *,
        reuse_port: bool,
    ) -> None:
        self.endpoints, self.options, self.settings, self.sock = endpoints, options, settings, sock
        self.reuse_port = reuse_port
        self.children: dict[int, float] = {}  # pid -> start time
        self.stopping = False

    def run(self, url: str) -> None:
        with self._signals():
            try:
                for _ in range(self.options.workers):
                    self._spawn(wait_until_listening=True)
                if self.options.on_ready:
                    self.options.on_ready(url, self.endpoints)
                while not self.stopping:
                    self._reap(restart=True)
                    time.sleep(0.1)
            finally:
                self._stop()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def stop(signum: int, frame: Any) -> None:
            self.stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _spawn(self, *, wait_until_listening: bool = False) -> None:
        parent = os.getpid()
        listening, told = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(listening)
                _die_with(parent)
                for sig in (signal.SIGTERM, signal.SIGINT):  # not the parent's handlers
                    signal.signal(sig, signal.SIG_DFL)
                sock = self._worker_socket()
                app = _build_app(self.endpoints, self.options, self.settings)

                def serving() -> None:
                    os.write(told, b"1")
                    os.close(told)

                with _stopped_by_signals():
                    _run_uvicorn(app, sock, self.options, on_started=serving)
                code = 0
            except BaseException:
                log.exception("a serving worker failed")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(told)
        self.children[pid] = time.monotonic()
        try:
            if wait_until_listening and not os.read(listening, 1):
                raise OSError(f"a serving worker could not listen on {_url(self.sock)}; see above")
        finally:
            os.close(listening)

    def _worker_socket(self) -> socket.socket:
        if not self.reuse_port:
            return self.sock  # the shared listening socket, inherited through the fork
        host, port = self.sock.getsockname()[:2]
        self.sock.close()
        # bound, not listening: uvicorn listens once it serves, so no connection waits in
        # the backlog of a worker still warming up (or is reset when the loop takes over)
        return bind_socket(host, port, listen=False, reuse_port=True)

    def _reap(self, *, restart: bool) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            started = self.children.pop(pid, None)
            if started is None:
                continue
            _mark_dead(pid)
            if restart and not self.stopping:
                log.warning("worker %d exited (%s); starting another", pid, _status(status))
                if time.monotonic() - started < 1.0:
                    time.sleep(1.0)  # a worker dying at once: do not spin
                self._spawn()

    def _stop(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.options.graceful_timeout + 5
        while self.children and time.monotonic() < deadline:
            self._reap(restart=False)
            time.sleep(0.05)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.sock.close()


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGINT stop the server gracefully and then return here, exit code 0.

    uvicorn catches them while it runs (stops accepting, drains in-flight requests) and
    raises them again once it has stopped; these handlers take that second delivery.
    """

    def stopped(signum: int, frame: Any) -> None:
        log.info("stopped by signal %d", signum)

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _die_with(parent: int) -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _mark_dead(pid: int) -> None:
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
