"""Bad server settings are refused before anything starts."""

from __future__ import annotations

import sys

import pytest

from loopml.errors import InvalidInputError
from loopml.serving.app import ServerLimits, ServingApp
from loopml.serving.server import ServerOptions, serve, tune_process


@pytest.mark.parametrize(
    "kwargs",
    [{"max_body_bytes": 0}, {"max_body_bytes": True}, {"body_timeout": 0}, {"body_timeout": -1.0}],
)
def test_bad_limits_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        ServerLimits(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"workers": 0}, {"workers": True}, {"workers": 1000}, {"port": -1}, {"port": 70000},
        {"switch_interval": 0}, {"switch_interval": 1.0}, {"switch_interval": "fast"},
    ],
)  # fmt: skip
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        ServerOptions(**kwargs)  # type: ignore[arg-type]


def test_serving_nothing_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        serve([])
    with pytest.raises(InvalidInputError, match="distinct names"):
        ServingApp([])


def test_a_serving_process_sets_the_gil_switch_interval_only_when_asked() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        tune_process(ServerOptions())
        assert sys.getswitchinterval() == pytest.approx(0.004)  # the interpreter's own
        tune_process(ServerOptions(switch_interval=0.0002))
        assert sys.getswitchinterval() == pytest.approx(0.0002)
    finally:
        sys.setswitchinterval(before)
