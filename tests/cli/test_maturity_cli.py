"""``loopml maturity``: the level reached, a table per level, and the commands that come next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest


def test_an_empty_project_is_level_0_and_lists_the_level_1_commands(cli: Any) -> None:
    data = cli.json("maturity")

    assert (data["level"], data["name"]) == (0, "manual")
    assert [level["level"] for level in data["levels"]] == [0, 1, 2, 3, 4]
    assert data["next"]["level"] == 1
    missing = {m["key"]: m["command"] for m in data["next"]["missing"]}
    assert missing["registered_models"] == "loopml models register runs:/RUN_ID/model MODEL"
    assert set(missing) == {"tracked_runs", "dataset_lineage", "registered_models"}

    shown = cli.run("maturity")
    assert shown.exit_code == 0, shown.output
    assert "MLOps maturity: level 0 of 4, manual" in shown.stdout
    assert "level 4: closed loop (0 of 4 met)" in shown.stdout
    assert "next: level 1, tracked & versioned" in shown.stdout
    assert "✗ registered model versions: loopml models register runs:/RUN_ID/model MODEL" in (
        shown.stdout
    )


def test_a_tracked_registered_model_is_level_1_and_names_it_in_the_next_commands(
    cli: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    import loopml

    monkeypatch.setenv("LOOPML_HOME", str(home))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    frame["y"] = (frame["x"] > 0).astype(int)
    with loopml.start_run(experiment="churn"):
        loopml.log_dataset("churn_train", frame)
        loopml.log_param("C", 1.0)
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        loopml.log_model(model, "model", input_example=frame[["x"]].head(2), register_as="churn")

    data = cli.json("maturity")
    shown = cli.run("maturity")

    assert data["level"] == 1
    level_1 = data["levels"][1]
    assert level_1["met"] is True
    assert [c["example"] for c in level_1["criteria"]][1:] == [
        "datasets:/churn_train/1", "models:/churn/1"
    ]  # fmt: skip
    assert "MLOps maturity: level 1 of 4, tracked & versioned" in shown.stdout
    assert "level 1: tracked & versioned (reached)" in shown.stdout
    assert "next: level 2, reproducible pipelines & gated releases" in shown.stdout
    assert 'loopml models policy set churn --gate "accuracy >= 0.8"' in shown.stdout
    assert "loopml models promote churn 1" in shown.stdout
