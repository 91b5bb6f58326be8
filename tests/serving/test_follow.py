"""Endpoints follow their deployments: alias moves, policy changes, refusals, rollback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _serving_models import ModelVersions, data

from loopml.config import Settings
from loopml.errors import GateFailedError, InvalidInputError, NotFoundError
from loopml.serving.control import open_endpoint
from loopml.serving.deployments import DeploymentClient
from loopml.serving.follow import Follower, start_following
from loopml.serving.policy import Route, TrafficPolicy
from loopml.serving.runtime import Endpoint, Routing

CANARY = TrafficPolicy(
    routes=(Route(alias="production", weight=90), Route(alias="challenger", weight=10))
)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Deployments are store records: these tests run over each database backend."""
    return Settings.load(home=tmp_path / "home", db_url=db_url)


@pytest.fixture
def churn(versions: ModelVersions) -> ModelVersions:
    """``churn`` v1 (production) and v2 (challenger)."""
    versions.sklearn(depth=3)
    versions.sklearn(depth=2)
    versions.promote("churn", 1)
    versions.promote("churn", 2, "challenger")
    return versions


@pytest.fixture
def api(churn: ModelVersions, deployments: DeploymentClient, settings: Settings) -> Endpoint:
    """The stored deployment ``churn-api`` following ``@production``, opened."""
    deployments.create("churn-api", "churn", TrafficPolicy.follow("production"))
    return open_endpoint("churn-api", settings)


@pytest.fixture
def follow(settings: Settings) -> Iterator[Callable[..., Follower]]:
    """Builds followers and stops them at the end of the test."""
    made: list[Follower] = []

    def build(*endpoints: Endpoint, poll_seconds: float = 2.0, **options: Any) -> Follower:
        follower = Follower(endpoints, settings, poll_seconds=poll_seconds, **options)
        made.append(follower)
        return follower

    yield build
    for follower in made:
        follower.stop()


def _serving(endpoint: Endpoint) -> dict[str, int]:
    return {target: served.version for target, served in endpoint.routing.targets.items()}


def test_open_endpoint_loads_every_target_once_and_names_a_missing_deployment(
    churn: ModelVersions, deployments: DeploymentClient, settings: Settings
) -> None:
    churn.promote("churn", 1, "challenger")  # both routes on v1: loaded once
    shadowed = TrafficPolicy(CANARY.routes, shadow=Route(version=2))
    deployments.create("churn-api", "churn", shadowed)
    endpoint = open_endpoint("churn-api", settings)
    assert endpoint.deployment == "churn-api"
    assert _serving(endpoint) == {"@production": 1, "@challenger": 1, "v2": 2}
    targets = endpoint.routing.targets
    assert targets["@production"] is targets["@challenger"]
    assert [v.label for v in endpoint.versions()] == ["churn/1", "churn/2"]
    primary, shadow = endpoint.route(key="customer-7")
    assert shadow is not None
    assert shadow.version == 2
    assert primary.loaded.predict(data()[0].iloc[:3]).shape == (3,)
    with pytest.raises(NotFoundError, match="deployment 'churn-apx' not found; did you mean"):
        open_endpoint("churn-apx", settings)
    ad_hoc = open_endpoint("models:/churn@challenger", settings)
    assert ad_hoc.deployment is None
    assert ad_hoc.name == "churn"


def test_a_version_failing_its_input_example_is_not_opened(
    churn: ModelVersions, deployments: DeploymentClient, settings: Settings, tmp_path: Path
) -> None:
    needed = tmp_path / "lookup-table"
    needed.write_text("ok")
    broken = churn.needs_file(needed)
    needed.unlink()
    deployments.create("broken-api", "churn", TrafficPolicy.pinned(broken))
    with pytest.raises(GateFailedError, match=r"models:/churn/3 failed on its own input example"):
        open_endpoint("broken-api", settings)


def test_the_swap_under_concurrent_load_fails_nothing_and_never_goes_back(
    churn: ModelVersions,
    api: Endpoint,
    deployments: DeploymentClient,
    follow: Callable[..., Follower],
) -> None:
    x = data()[0].iloc[:5]
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(4)]
    failures: list[BaseException] = []

    def client(versions: list[int]) -> None:
        while not stop.is_set():
            try:
                primary, _ = api.route()
                primary.loaded.predict(x)
                versions.append(primary.version)
            except BaseException as err:  # every failure counts, whatever it is
                failures.append(err)

    threads = [threading.Thread(target=client, args=(s,)) for s in seen]
    for thread in threads:
        thread.start()
    follower = follow(api, poll_seconds=0.05).start()
    try:
        churn.promote("churn", 2)
        deadline = time.monotonic() + 60  # a guard against hanging, not a timing assert
        while not all(s and s[-1] == 2 for s in seen) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        follower.stop()
    assert failures == []
    for versions in seen:
        assert versions[-1] == 2
        assert versions == sorted(versions)  # 1, 1, …, 2, 2: never back
    assert any(1 in versions for versions in seen)
    ranges = [
        (r.target, r.version, r.ended_at is None) for r in deployments.served_versions("churn-api")
    ]
    assert ranges == [("@production", 1, False), ("@production", 2, True)]


def test_a_version_that_fails_its_check_is_refused_and_the_old_one_keeps_serving(
    churn: ModelVersions,
    api: Endpoint,
    deployments: DeploymentClient,
    follow: Callable[..., Follower],
    tmp_path: Path,
) -> None:
    follower = follow(api)
    needed = tmp_path / "lookup-table"
    needed.write_text("ok")
    broken = churn.needs_file(needed)
    needed.unlink()
    churn.promote("churn", broken)
    [result] = follower.poll()
    assert not result.swapped
    assert result.error is not None
    assert "models:/churn/3 failed on its own input example (FileNotFoundError" in result.error
    assert _serving(api) == {"@production": 1}
    assert [r.version for r in deployments.served_versions("churn-api")] == [1]
    fixed = churn.sklearn(depth=4)
    churn.promote("churn", fixed)
    [result] = follower.poll()
    assert result.swapped
    assert result.targets == {"@production": fixed}
    assert _serving(api) == {"@production": 4}


def test_a_policy_change_swaps_in_the_canary_reusing_the_loaded_version(
    churn: ModelVersions,
    api: Endpoint,
    deployments: DeploymentClient,
    follow: Callable[..., Follower],
) -> None:
    follower = follow(api)
    production = api.routing.targets["@production"]
    deployments.set_traffic("churn-api", CANARY, expected_revision=1, reason="try v2")
    [result] = follower.poll()
    assert result.swapped
    assert result.revision == 2
    assert api.routing.policy == CANARY
    assert _serving(api) == {"@production": 1, "@challenger": 2}
    assert api.routing.targets["@production"] is production  # not loaded again
    picked = {api.route(key=f"customer-{i}")[0].version for i in range(200)}
    assert picked == {1, 2}
    assert follower.poll() == []  # nothing new: nothing looked at
    deployments.update("churn-api", description="canary on")  # a revision, same versions
    [result] = follower.poll()
    assert result.revision == 3
    assert api.routing.targets["@challenger"].version == 2
    targets = {(r.target, r.version) for r in deployments.served_versions("churn-api")}
    assert targets == {("@production", 1), ("@challenger", 2)}


def test_rollback_is_moving_the_alias_back(
    churn: ModelVersions,
    api: Endpoint,
    deployments: DeploymentClient,
    follow: Callable[..., Follower],
) -> None:
    swaps: list[tuple[int, int]] = []

    def on_swap(endpoint: Endpoint, old: Routing, new: Routing) -> None:
        swaps.append((old.targets["@production"].version, new.targets["@production"].version))
        raise RuntimeError("a broken metrics hook must not undo or stop the swap")

    follower = follow(api, on_swap=on_swap)
    churn.promote("churn", 2)
    assert follower.poll()[0].targets == {"@production": 2}
    churn.promote("churn", 1)  # the rollback
    assert follower.poll()[0].targets == {"@production": 1}
    assert _serving(api) == {"@production": 1}
    versions = [r.version for r in deployments.served_versions("churn-api")]
    assert versions == [1, 2, 1]
    assert swaps == [(1, 2), (2, 1)]


def test_an_ad_hoc_endpoint_follows_its_alias_and_a_pinned_one_stays(
    churn: ModelVersions, settings: Settings, follow: Callable[..., Follower]
) -> None:
    following = open_endpoint("models:/churn@challenger", settings)
    pinned = open_endpoint("models:/churn/1", settings)
    follower = follow(following, pinned)
    churn.promote("churn", 1, "challenger")
    moved, stayed = follower.poll()  # both are named after the model, in order
    assert _serving(following) == {"@challenger": 1}
    assert following.routing.targets["@challenger"] is pinned.routing.targets["v1"]  # reused
    assert _serving(pinned) == {"v1": 1}
    assert moved.swapped
    assert not stayed.swapped
    churn.registry.remove_alias("churn", "challenger")
    [removed, _] = follower.poll()
    assert removed.error is not None
    assert "was removed" in removed.error
    assert _serving(following) == {"@challenger": 1}


def test_start_following_catches_up_and_a_deleted_deployment_keeps_serving(
    churn: ModelVersions, api: Endpoint, deployments: DeploymentClient, settings: Settings
) -> None:
    churn.promote("churn", 2)  # moved after the endpoint was opened, before following
    follower = start_following([api], settings, poll_seconds=30)
    try:
        assert _serving(api) == {"@production": 2}
        deployments.delete("churn-api")
        assert follower.poll() == []
        assert _serving(api) == {"@production": 2}
        assert follower.poll(everything=True)[0].error is not None
    finally:
        follower.stop()


@pytest.mark.parametrize("poll", [0, -1, 1e9, True, "1"])
def test_poll_seconds_must_be_sensible(api: Endpoint, settings: Settings, poll: object) -> None:
    with pytest.raises(InvalidInputError, match="poll_seconds"):
        Follower([api], settings, poll_seconds=poll)  # type: ignore[arg-type]
