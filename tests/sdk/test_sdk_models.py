"""register_model: the SDK registers into the fluent API's store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import loopml
from loopml._sdk.models import register_model, registry_client
from loopml.errors import InvalidInputError, NotFoundError


@pytest.fixture(autouse=True)
def _fresh_store(tmp_path: Path) -> None:
    loopml.configure(home=str(tmp_path / "home"))


def test_a_model_logged_in_the_active_run_registers_by_info_or_uri() -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(8.0).reshape(4, 2)
    with loopml.start_run() as run:
        info = run.log_model(LinearRegression().fit(x, [1, 2, 3, 4]), input_example=x)
    first = register_model(info, "prices", description="baseline")
    second = register_model(f"runs:/{run.id}/model", "prices", tags={"try": "2"})
    assert (first.uri, second.uri) == ("models:/prices/1", "models:/prices/2")
    assert first.package_digest == second.package_digest == info.package_digest
    assert registry_client().get_model("prices").latest_version == 2
    assert registry_client().settings == loopml.tracking.fluent.default_client().settings


def test_an_unknown_run_says_so() -> None:
    with pytest.raises(NotFoundError, match="run 'NOPE' not found"):
        register_model("runs:/NOPE/model", "prices")


def test_a_policy_gate_on_an_unknown_metric_is_refused_and_the_policy_kept() -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(8.0).reshape(4, 2)
    with loopml.start_run() as run:
        info = run.log_model(LinearRegression().fit(x, [1, 2, 3, 4]), input_example=x)
    register_model(info, "prices")
    registry = loopml.RegistryClient(loopml.tracking.fluent.default_client().settings)
    kept = registry.set_policy("prices", {"gates": ["rmse <= 2", "r2 >= champion - 0.1"]})
    for client in (registry, registry_client()):
        with pytest.raises(InvalidInputError, match=r"unknown metric 'acuracy'; did you mean acc"):
            client.set_policy("prices", {"gates": ["acuracy >= 0.9"]})
        with pytest.raises(InvalidInputError, match=r"invalid gate 'rmse => 2'"):
            client.set_policy("prices", {"gates": ["rmse => 2"]})
    assert registry.get_policy("prices") == kept
