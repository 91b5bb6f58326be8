"""Aliases: history, time travel, compare-and-set, and concurrent moves (threads, processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from _registry_packages import LogPackage

from loopml.config import Settings
from loopml.errors import ConflictError, InvalidInputError, NotFoundError
from loopml.registry.client import ANY, RegistryClient
from loopml.registry.models import AliasChange
from loopml.testing import FakeClock


def _versions(registry: RegistryClient, log_package: LogPackage, count: int) -> None:
    for _ in range(count):
        registry.register(log_package(), "churn")


def _assert_chain(changes: list[AliasChange]) -> None:
    """Each move names, as its previous version, the version the move before it set."""
    previous = None
    for change in changes:
        assert change.previous_version == previous, changes
        previous = change.version


def _tick() -> None:
    time.sleep(0.003)  # history times are milliseconds; keep moves apart


def test_moves_are_recorded_as_a_chain_with_reasons(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 3)
    first = registry.set_alias("churn", "staging", 1, reason="first candidate")
    assert (first.version, first.previous_version, first.reason) == (1, None, "first candidate")
    registry.set_alias("churn", "staging", 3)
    registry.set_alias("churn", "canary", 2)
    registry.remove_alias("churn", "staging", reason="done")
    moves = registry.list_alias_changes("churn", "staging")
    assert [(c.previous_version, c.version) for c in moves] == [(None, 1), (1, 3), (3, None)]
    assert moves[-1].reason == "done"
    assert len(registry.list_alias_changes("churn")) == 4
    assert registry.get_model("churn").aliases == {"canary": 2}
    kinds = [e.kind for e in registry.list_events(kinds=["alias.set", "alias.removed"])]
    assert kinds == ["alias.set", "alias.set", "alias.set", "alias.removed"]


def test_alias_at_answers_what_was_in_production_at_a_time(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 3)
    for version in (1, 2, 3):
        registry.set_status("churn", version, "validated")
    fake = FakeClock(time.time())  # history times come from loopml's clock: drive it
    before = fake.now_ms - 1
    with fake.installed():
        for version in (1, 3, 2):
            fake.advance(ms=3)
            registry.promote("churn", version)
            fake.advance(ms=3)
    assert registry.alias_at("churn", "production", before) is None
    changes = registry.list_alias_changes("churn", "production")
    _assert_chain(changes)
    assert [change.at - before for change in changes] == [4, 10, 16]
    for change, expected in zip(changes, (1, 3, 2), strict=True):
        assert registry.alias_at("churn", "production", change.at) == expected
        assert registry.alias_at("churn", "production", change.at + 1) == expected
    assert registry.alias_at("churn", "production", fake.now_ms) == 2
    with pytest.raises(
        NotFoundError, match=r"did you mean: churn@production\?.*has ever had: production"
    ):
        registry.alias_at("churn", "prod", before)
    with pytest.raises(NotFoundError, match="alias 'churn@prod' not found"):
        registry.list_alias_changes("churn", "prod")


def test_a_removed_alias_points_nowhere_from_then_on(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 1)
    set_at = registry.set_alias("churn", "canary", 1).at
    _tick()
    removed_at = registry.remove_alias("churn", "canary").at
    assert registry.alias_at("churn", "canary", set_at) == 1
    assert registry.alias_at("churn", "canary", removed_at) is None
    with pytest.raises(NotFoundError, match=r"alias 'churn@canary' not found"):
        registry.resolve("models:/churn@canary")


def test_compare_and_set_refuses_a_stale_expectation(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 3)
    registry.set_alias("churn", "staging", 1, expected=None)
    with pytest.raises(ConflictError, match=r"already points at 1; expected it not to exist"):
        registry.set_alias("churn", "staging", 2, expected=None)
    registry.set_alias("churn", "staging", 2, expected=1)
    with pytest.raises(ConflictError, match=r"churn@staging points at 2, not 1"):
        registry.set_alias("churn", "staging", 3, expected=1)
    with pytest.raises(ConflictError, match=r"churn@canary does not exist, not pointing at 2"):
        registry.set_alias("churn", "canary", 3, expected=2)
    with pytest.raises(ConflictError, match=r"points at 2, not 3"):
        registry.remove_alias("churn", "staging", expected=3)
    assert registry.resolve("models:/churn@staging").version == 2
    assert len(registry.list_alias_changes("churn")) == 2


@pytest.mark.parametrize("alias", ["3", "", "-x", "pro duction", "a@b", "x" * 101, 7])
def test_bad_alias_names_are_refused_with_the_rule(
    registry: RegistryClient, log_package: LogPackage, alias: object
) -> None:
    _versions(registry, log_package, 1)
    with pytest.raises(InvalidInputError, match="starts with a letter"):
        registry.set_alias("churn", alias, 1)  # type: ignore[arg-type]


def test_protected_and_unknown_aliases_say_what_to_do(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 2)
    with pytest.raises(
        InvalidInputError, match=r"protected.*promote\('churn', 1, alias='production'\)"
    ):
        registry.set_alias("churn", "production", 1)
    registry.set_status("churn", 1, "validated")
    registry.promote("churn", 1)
    with pytest.raises(InvalidInputError, match="protected_aliases"):
        registry.remove_alias("churn", "production")
    with pytest.raises(NotFoundError, match=r"aliases of 'churn': production"):
        registry.remove_alias("churn", "canary")
    with pytest.raises(NotFoundError, match=r"versions of 'churn': 1-2"):
        registry.set_alias("churn", "canary", 5)
    with pytest.raises(NotFoundError, match=r"model 'fraud' not found"):
        registry.set_alias("fraud", "canary", 1)


# -- concurrency -----------------------------------------------------------------------


def _run_threads(count: int, target: object) -> list[object]:
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)  # type: ignore[operator]
        except Exception as err:  # collected and checked by the test
            results[i] = err

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_threads_racing_with_compare_and_set_have_one_winner(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 9)
    registry.set_alias("churn", "staging", 1)
    results = _run_threads(8, lambda i: registry.set_alias("churn", "staging", i + 2, expected=1))
    winners = [r for r in results if isinstance(r, AliasChange)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert (len(winners), len(losers)) == (1, 7), results
    assert registry.resolve("models:/churn@staging").version == winners[0].version
    history = registry.list_alias_changes("churn", "staging")
    assert [c.version for c in history] == [1, winners[0].version]
    _assert_chain(history)


def test_threads_moving_an_alias_at_once_all_land_in_one_chain(
    registry: RegistryClient, log_package: LogPackage
) -> None:
    _versions(registry, log_package, 8)
    results = _run_threads(8, lambda i: registry.set_alias("churn", "staging", i + 1, expected=ANY))
    assert all(isinstance(r, AliasChange) for r in results), results
    history = registry.list_alias_changes("churn", "staging")
    assert sorted(c.version for c in history) == list(range(1, 9))
    _assert_chain(history)
    assert registry.resolve("models:/churn@staging").version == history[-1].version


# Each process waits for the go file, then races: one compare-and-set, then plain moves.
PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    go, first, moves = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    from loopml.errors import ConflictError
    from loopml.registry.client import RegistryClient
    client = RegistryClient()
    while not go.exists():
        time.sleep(0.002)
    try:
        client.set_alias("churn", "staging", first, expected=1)
        won = True
    except ConflictError:
        won = False
    for i in range(moves):
        client.set_alias("churn", "staging", first + i)
    client.deliver_pending(timeout=1)
    print(json.dumps({"won": won}))
    """
)


def test_two_processes_moving_an_alias_serialize_into_one_chain(
    registry: RegistryClient, log_package: LogPackage, settings: Settings, tmp_path: Path
) -> None:
    moves = 10
    _versions(registry, log_package, 2 * moves + 1)
    registry.set_alias("churn", "staging", 1)
    go = tmp_path / "go"
    env = {
        **os.environ,
        "LOOPML_HOME": str(settings.home),
        "LOOPML_DB_URL": settings.db_url,
        "LOOPML_ARTIFACTS": settings.artifacts_url,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(go), str(first), str(moves)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for first in (2, 2 + moves)
    ]
    time.sleep(0.5)  # let them import
    go.touch()
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
        outcomes.append(json.loads(out)["won"])
    assert sorted(outcomes) == [False, True]
    history = registry.list_alias_changes("churn", "staging")
    assert len(history) == 1 + 1 + 2 * moves
    _assert_chain(history)
    assert registry.resolve("models:/churn@staging").version == history[-1].version
    alias_events = registry.list_events(kinds=["alias.set"], limit=1000)
    assert [e.version for e in alias_events] == [c.version for c in history]
