"""The loopml side of the model-registry benchmark; runs in the project's ``.venv``.

    .venv/bin/python bench/_loopml_registry_worker.py load '{"loads": 20}' /tmp/d
    .venv/bin/python bench/_loopml_registry_worker.py registry \
        '{"versions": 1000, "repeats": 20}' /tmp/d

The mirror image of ``_mlflow_registry_worker.py``: same workload names and parameters, a
fresh store in the given directory (``Settings.load(home=directory)``: SQLite metadata,
local artifacts), one ``BENCH_RESULT {json}`` line on stdout. Only the workload is timed:
fitting the forest, logging it and registering the first versions are not.

- ``load``: logs the 50-tree forest with ``loopml.log_model`` in a run, loads it once
  untimed (imports, and the first fetch into loopml's package cache), then times ``loads``
  loads of ``runs:/<run>/model`` with ``loopml.load_model`` (the line's number); then as
  many with the package cache emptied before each load (every load fetches the files from
  the artifact store again, as MLflow does), and as many of ``models:/forest@champion``
  after registering the package. Every load returns a fresh object.
- ``registry``: registers ``versions`` versions of one model from the run's package with
  ``RegistryClient.register`` (untimed), then times, ``repeats`` times each, registering
  one more version, moving an alias (``set_alias``) and resolving it
  (``resolve("models:/forest@champion")``); then, loopml only, moving the alias with a
  webhook registered to a receiver that is down (``set_alias_dead_webhook``).
"""

from __future__ import annotations

import itertools
import shutil
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _worker import breast_cancer_forest, expect, positives, repeat, run, temp_inside

EXPERIMENT = "bench"
MODEL = "forest"
ALIAS = "champion"


def _log_forest(home: Path) -> tuple[Any, str, int]:
    """Settings of a fresh store in ``home``, and the forest logged there: its URI and size."""
    import loopml
    from loopml import Settings
    from loopml._sdk.models import log_model  # what loopml.log_model exports

    temp_inside(home)
    loopml.configure(home=str(home))
    forest, features = breast_cancer_forest()
    with loopml.start_run(experiment=EXPERIMENT):
        info = log_model(forest, "model", input_example=features.head(5))
    return Settings.load(home=home), info.uri, info.size_bytes


def load(home: Path, loads: int) -> dict[str, Any]:
    """Load the logged forest ``loads`` times per way (after one untimed load each)."""
    from loopml.registry.client import RegistryClient
    from loopml.registry.loading import load_model  # what loopml.load_model exports

    settings, uri, size = _log_forest(home)
    forest, features = breast_cancer_forest()
    want = positives(forest.predict(features))
    cache = settings.home / "cache" / "packages"

    def uncached() -> Any:
        shutil.rmtree(cache, ignore_errors=True)
        return load_model(uri, settings=settings)

    client = RegistryClient(settings)
    client.set_alias(MODEL, ALIAS, client.register(uri, MODEL).version)
    loaders: dict[str, Callable[[], Any]] = {
        "runs": lambda: load_model(uri, settings=settings),
        "uncached": uncached,
        "alias": lambda: load_model(f"models:/{MODEL}@{ALIAS}", settings=settings),
    }
    timings: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    for name, loader in loaders.items():
        start = time.perf_counter()
        model = loader()
        first[name] = time.perf_counter() - start
        expect(f"loopml {name}", positives(model.predict(features)), want, "positive rows")
        timings[name] = repeat(lambda loader=loader: id(loader()), loads)[0]
    return {
        "loads": loads,
        "seconds": statistics.median(timings["runs"]),
        "uncached_seconds": statistics.median(timings["uncached"]),
        "alias_seconds": statistics.median(timings["alias"]),
        "first_seconds": first,
        "package_bytes": size,
        "positives": want,
        "timings": timings,
    }


def registry(home: Path, versions: int, repeats: int) -> dict[str, Any]:
    """``versions`` versions of one model, then time register / move alias / resolve."""
    from loopml.registry.client import RegistryClient

    settings, uri, _ = _log_forest(home)
    client = RegistryClient(settings)

    def register() -> int:
        return client.register(uri, MODEL).version

    start = time.perf_counter()
    for _ in range(versions):
        register()
    populate_seconds = time.perf_counter() - start

    register()  # warm-up, untimed, like the first move and the first resolve below
    register_timings, last = repeat(register, repeats)
    expect("loopml", last, versions + 1 + repeats, "as the last version number")

    # Endless: the timed moves, then the dead-webhook moves, each to another version.
    targets = (2 + i % (versions - 1) for i in itertools.count())

    def move() -> int:
        version = next(targets)
        client.set_alias(MODEL, ALIAS, version)
        return version

    move()
    alias_timings, moved_to = repeat(move, repeats)

    def resolve() -> int:
        return client.resolve(f"models:/{MODEL}@{ALIAS}").version

    resolve()
    resolve_timings, resolved = repeat(resolve, repeats)
    expect("loopml", resolved, moved_to, f"as the version {ALIAS} points at")

    # loopml only: an alias move while a webhook's receiver is down. Delivery (with its
    # retries at 0.5 s, 1 s, 2 s, ...) runs elsewhere, so the move costs what it costs
    # without the webhook (this was a timing assert in tests/registry/test_webhooks.py).
    client.add_webhook(f"http://127.0.0.1:{_dead_port()}/hooks")
    move()
    dead_hook_timings, _ = repeat(move, repeats)
    return {
        "versions": versions,
        "repeats": repeats,
        "populate_seconds": populate_seconds,
        "register": statistics.median(register_timings),
        "set_alias": statistics.median(alias_timings),
        "resolve": statistics.median(resolve_timings),
        "set_alias_dead_webhook": statistics.median(dead_hook_timings),
        "timings": {
            "register": register_timings,
            "set_alias": alias_timings,
            "resolve": resolve_timings,
            "set_alias_dead_webhook": dead_hook_timings,
        },
    }


def _dead_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {"load": load, "registry": registry}

if __name__ == "__main__":
    run(WORKLOADS, as_script_in_directory=True)
