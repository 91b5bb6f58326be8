"""Traffic policies: validated values, sticky and weighted route choice."""

from __future__ import annotations

import random

import pytest

from loopml.errors import InvalidInputError
from loopml.serving.policy import (
    PayloadLogSettings,
    Resources,
    Route,
    TrafficPolicy,
    choose_route,
)


def test_weights_that_do_not_add_up_to_100_are_refused_with_the_shares() -> None:
    with pytest.raises(InvalidInputError, match=r"add up to 100, got 110 \(@production=90"):
        TrafficPolicy(routes=(Route(alias="production", weight=90), Route(version=4, weight=20)))


def test_a_route_names_an_alias_or_a_version_not_both() -> None:
    with pytest.raises(InvalidInputError, match="an alias or a version"):
        Route(alias="production", version=3)
    with pytest.raises(InvalidInputError, match="version must be a whole number"):
        Route(version=0)


def test_the_shadow_may_not_also_take_live_traffic() -> None:
    with pytest.raises(InvalidInputError, match="shadow @production also takes live traffic"):
        TrafficPolicy(routes=(Route(alias="production"),), shadow=Route(alias="production"))


def test_the_same_key_always_lands_on_the_same_route() -> None:
    policy = TrafficPolicy(
        routes=(Route(alias="production", weight=50), Route(version=7, weight=50))
    )
    for n in range(200):
        key = f"customer-{n}"
        assert choose_route(policy, key) == choose_route(policy, key)


def test_growing_a_canary_moves_keys_only_towards_the_canary() -> None:
    small = TrafficPolicy(
        routes=(Route(version=7, weight=10), Route(alias="production", weight=90))
    )
    large = TrafficPolicy(
        routes=(Route(version=7, weight=30), Route(alias="production", weight=70))
    )
    for n in range(500):
        key = f"k{n}"
        if choose_route(small, key).target == "v7":
            assert choose_route(large, key).target == "v7"


def test_keyless_requests_split_by_weight() -> None:
    policy = TrafficPolicy(
        routes=(Route(alias="production", weight=80), Route(version=2, weight=20))
    )
    rng = random.Random(7)
    picks = [choose_route(policy, None, rng).target for _ in range(10_000)]
    share = picks.count("v2") / len(picks)
    assert 0.18 < share < 0.22


def test_policies_and_settings_round_trip_through_dicts() -> None:
    policy = TrafficPolicy(
        routes=(Route(alias="production", weight=95), Route(version=3, weight=5)),
        shadow=Route(alias="challenger"),
    )
    assert TrafficPolicy.from_dict(policy.to_dict()) == policy
    settings = PayloadLogSettings(sample_rate=0.25, log_inputs=False)
    assert PayloadLogSettings.from_dict(settings.to_dict()) == settings
    resources = Resources(workers=2, max_batch_size=32)
    assert Resources.from_dict(resources.to_dict()) == resources


def test_bad_resources_and_sample_rates_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="sample_rate must be between 0 and 1"):
        PayloadLogSettings(sample_rate=1.5)
    with pytest.raises(InvalidInputError, match="workers must be a whole number"):
        Resources(workers=0)
    with pytest.raises(InvalidInputError, match="device must be"):
        Resources(device="tpu")
