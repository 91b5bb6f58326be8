"""evaluate(): real models, real data versions, a real registry (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from loopml.config import Settings
from loopml.data.versions import DatasetClient
from loopml.errors import InvalidInputError, NotFoundError
from loopml.evaluation import evaluate
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient
from loopml.registry.models import PromotionPolicy, VersionStatus
from loopml.store import open_store
from loopml.store.lineage import edges_of
from loopml.tracking import fluent

from .conftest import FEATURES, Cancer, Register

# The infra check starts a fresh interpreter (seconds); only tests about it turn it on.
QUICK = {"infra_check": False}


def _fit(cancer: Cancer, columns: list[str] | None = None) -> LogisticRegression:
    columns = columns or FEATURES
    return LogisticRegression(max_iter=5000).fit(cancer.train[columns], cancer.y)


def test_metrics_are_stored_and_linked_to_the_version_and_dataset_version(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    model = _fit(cancer)
    version = register(model, cancer.X.head(5))
    DatasetClient(settings).log("holdout", cancer.holdout)

    result = evaluate(
        version.uri,
        "datasets:/holdout@latest",
        "target",
        gates=["f1 >= 0.5"],
        settings=settings,
        **QUICK,
    )

    X, y = cancer.holdout[FEATURES], cancer.holdout["target"]
    pred, proba = model.predict(X), model.predict_proba(X)
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert result.metrics["f1"] == pytest.approx(sk.f1_score(y, pred))
    assert result.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 1]))
    assert result.metrics["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    assert result.metrics["rows"] == len(cancer.holdout)
    assert result.metrics["package_size_bytes"] == version.size_bytes
    assert result.metrics["package_size_mb"] == pytest.approx(version.size_bytes / 1e6)
    assert result.metrics["latency_ms_per_row"] > 0
    assert (result.model, result.version, result.data) == ("cancer", 1, "datasets:/holdout/1")
    assert result.passed is True
    assert result.status == "validated"

    stored = registry.get_evaluation(result.id)
    assert stored["metrics"] == pytest.approx(result.metrics)
    assert stored["gates"] == [gate.to_dict() for gate in result.gates]
    assert (stored["model"], stored["version"], stored["passed"]) == ("cancer", 1, True)
    assert registry.get_version("cancer", 1).status is VersionStatus.VALIDATED
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("evaluation", result.id), "out")
    assert {(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges} == {
        ("consumed", "model_version", "cancer/1"),
        ("evaluated_on", "dataset_version", "holdout/1"),
    }


def test_a_failed_gate_rejects_the_version_and_says_why(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        gates=["accuracy >= 0.99", "recall >= 0.5"],
        settings=settings,
        **QUICK,
    )
    assert result.passed is False
    assert [gate.passed for gate in result.gates] == [False, True]
    [reason] = result.reasons
    assert reason.startswith("accuracy >= 0.99: accuracy 0.")
    assert " < 0.99" in reason
    assert result.status == "rejected"
    assert registry.get_version("cancer", version.version).status is VersionStatus.REJECTED
    assert result.data.startswith(f"dataframe({len(cancer.holdout)}x7, sha256 ")


def test_without_gates_nothing_is_decided(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)
    assert result.passed is None
    assert result.gates == []
    assert result.status is None
    assert registry.get_version("cancer", version.version).status is VersionStatus.REGISTERED
    assert registry.list_evaluations("cancer", version.version)[0]["id"] == result.id


def test_the_policy_gates_apply_by_default_and_unblock_promotion(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    gates = ("accuracy >= 0.8", "f1 >= champion - 0.01", "gap(accuracy, by=group) <= 0.2")
    registry.set_policy("cancer", PromotionPolicy(gates=gates))
    assert registry.promotion_blockers("cancer", version.version) != []

    result = evaluate(version.uri, cancer.holdout, "target", settings=settings, **QUICK)

    assert [gate.expression for gate in result.gates] == list(gates)
    assert result.passed is True
    assert result.gates[1].skipped
    assert "group" in result.slices  # the gap gate's column is sliced without being asked
    assert registry.promotion_blockers("cancer", version.version) == []
    assert registry.promote("cancer", version.version).aliases == ("production",)


def test_the_champion_is_measured_on_the_same_data(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    weak = LogisticRegression(max_iter=5000).fit(cancer.train[["mean smoothness"]], cancer.y)
    first = register(weak, cancer.X.head(5)[["mean smoothness"]])
    evaluate(first.uri, cancer.holdout, "target", gates=["rows >= 1"], settings=settings, **QUICK)
    registry.promote("cancer", first.version)
    second = register(_fit(cancer), cancer.X.head(5))

    better = evaluate(
        second.uri,
        cancer.holdout,
        "target",
        slices=["group"],
        gates=["f1 >= champion + 0.05", "log_loss <= champion * 0.9"],
        settings=settings,
        **QUICK,
    )

    assert better.champion is not None
    assert (better.champion.uri, better.champion.version) == ("models:/cancer@production", 1)
    expected = sk.f1_score(
        cancer.holdout["target"], weak.predict(cancer.holdout[["mean smoothness"]])
    )
    assert better.champion.metrics["f1"] == pytest.approx(expected)
    assert set(better.champion.slices["group"]) == {"a", "b"}
    assert better.passed is True
    assert better.gates[0].threshold == pytest.approx(better.champion.metrics["f1"] + 0.05)
    stored = registry.get_evaluation(better.id)["champion"]
    assert stored["version"] == 1
    assert stored["metrics"]["f1"] == pytest.approx(expected)

    worse = evaluate(
        first.uri,
        cancer.holdout,
        "target",
        gates=["f1 >= champion"],
        champion="models:/cancer/2",
        settings=settings,
        **QUICK,
    )
    assert worse.champion is not None
    assert worse.champion.version == 2
    assert worse.passed is False
    assert "(champion " in worse.reasons[0]


def test_without_a_champion_change_gates_are_skipped_and_the_result_says_so(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        gates=["f1 >= champion", "accuracy >= 0.5"],
        settings=settings,
        **QUICK,
    )
    why = "no champion: models:/cancer@production does not exist"
    assert result.champion is None
    assert why in result.notes
    [change, absolute] = result.gates
    assert (change.skipped, change.passed, change.reason) == (True, False, why)
    assert absolute.passed
    assert result.passed is True
    assert result.skipped == [change]


def test_a_version_is_not_its_own_champion(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    registry.set_alias("cancer", "staging", version.version)
    result = evaluate(
        "models:/cancer@staging",
        cancer.holdout,
        "target",
        champion="staging",
        gates=["f1 >= champion"],
        settings=settings,
        **QUICK,
    )
    assert result.champion is None
    assert result.version == version.version
    assert result.gates[0].reason == (
        "no champion: models:/cancer@staging is the candidate itself (version 1)"
    )


def test_a_gap_gate_fails_a_model_that_is_much_worse_for_one_group(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    unfair = cancer.holdout.copy()
    # For group b the labels no longer follow the features: the model is right about half
    # the time there, and as good as ever for group a.
    rng = np.random.default_rng(0)
    in_b = (unfair["group"] == "b").to_numpy()
    unfair.loc[in_b, "target"] = rng.integers(0, 2, in_b.sum())
    result = evaluate(
        version.uri,
        unfair,
        "target",
        gates=["gap(accuracy, by=group) <= 0.1"],
        settings=settings,
        **QUICK,
    )
    a, b = result.slices["group"]["a"]["accuracy"], result.slices["group"]["b"]["accuracy"]
    assert a - b > 0.2
    assert result.passed is False
    [gate] = result.gates
    assert gate.observed == pytest.approx(a - b)
    assert gate.reason.startswith(f"gap in accuracy across group is {a - b:.6g} (lowest b ")
    assert result.status == "rejected"


def test_latency_and_size_budgets(settings: Settings, register: Register, cancer: Cancer) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        gates=["latency_ms_per_row <= 1000", "package_size_mb <= 0.000001"],
        settings=settings,
        **QUICK,
    )
    latency, size = result.gates
    assert (latency.kind, latency.passed) == ("budget", True)
    assert (size.kind, size.passed) == ("budget", False)
    assert size.reason == f"package_size_mb {version.size_bytes / 1e6:.6g} > 1e-06"


def test_a_classifier_without_probabilities_leaves_those_metrics_out(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(LinearSVC().fit(cancer.X, cancer.y), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        slices=["group"],
        gates=["roc_auc >= 0.5"],
        settings=settings,
        **QUICK,
    )
    assert "roc_auc" not in result.metrics
    note = "roc_auc, log_loss and calibration_error need predict_proba; the model has none"
    assert result.notes == [note, "no champion: models:/cancer@production does not exist"]
    assert result.reasons == [f"roc_auc >= 0.5: roc_auc was not measured: {note}"]


def test_gate_and_column_mistakes_fail_before_anything_is_stored(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    with pytest.raises(InvalidInputError, match="names unknown metric 'acuracy'; did you mean"):
        evaluate(version.uri, cancer.holdout, "target", gates=["acuracy >= 0.9"], settings=settings)
    with pytest.raises(InvalidInputError, match=r"invalid gate 'f1 => 0.9'"):
        evaluate(version.uri, cancer.holdout, "target", gates=["f1 => 0.9"], settings=settings)
    with pytest.raises(
        InvalidInputError, match=r"target column 'targt' is not in dataframe.*did you mean target"
    ):
        evaluate(version.uri, cancer.holdout, "targt", settings=settings)
    with pytest.raises(InvalidInputError, match="slice column 'grup' is not in the data"):
        evaluate(version.uri, cancer.holdout, "target", slices=["grup"], settings=settings)
    with pytest.raises(InvalidInputError, match="use task='classification' or task='regression'"):
        evaluate(version.uri, cancer.holdout, "target", task="ranking", settings=settings)
    with pytest.raises(InvalidInputError, match="has no rows"):
        evaluate(version.uri, cancer.holdout.head(0), "target", settings=settings)
    with pytest.raises(InvalidInputError, match="data must be a dataset URI"):
        evaluate(version.uri, "holdout.csv", "target", settings=settings)
    with pytest.raises(NotFoundError):
        evaluate("models:/cancer/9", cancer.holdout, "target", settings=settings)
    assert registry.list_evaluations("cancer", version.version) == []


def test_regression(settings: Settings, register: Register) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X.iloc[:300], y.iloc[:300])
    version = register(model, X.head(5), name="diabetes")
    holdout = X.iloc[300:].assign(
        progression=y.iloc[300:], gender=np.where(X["sex"].iloc[300:] > 0, "m", "f")
    )
    result = evaluate(
        version.uri,
        holdout,
        "progression",
        task="regression",
        slices=["gender"],
        gates=["r2 >= 0.3", "rmse <= 100", "gap(mae, by=gender) <= 20"],
        settings=settings,
        **QUICK,
    )
    pred = model.predict(X.iloc[300:])
    assert result.metrics["rmse"] == pytest.approx(sk.root_mean_squared_error(y.iloc[300:], pred))
    assert result.metrics["mae"] == pytest.approx(sk.mean_absolute_error(y.iloc[300:], pred))
    assert result.metrics["r2"] == pytest.approx(sk.r2_score(y.iloc[300:], pred))
    assert set(result.slices["gender"]) == {"f", "m"}
    assert result.passed is True
    with pytest.raises(InvalidInputError, match="a regression evaluation computes: rmse, mae, r2"):
        evaluate(
            version.uri,
            holdout,
            "progression",
            task="regression",
            gates=["f1 >= 0.5"],
            settings=settings,
        )


def test_a_package_folder_is_evaluated_without_a_version(
    settings: Settings, tmp_path: Path, cancer: Cancer
) -> None:
    folder = tmp_path / "package"
    save_package(
        DummyClassifier(strategy="prior").fit(cancer.X, cancer.y),
        folder,
        input_example=cancer.X.head(5),
    )
    result = evaluate(
        str(folder), cancer.holdout, "target", gates=["accuracy >= 0.5"], settings=settings, **QUICK
    )
    assert (result.model, result.version, result.status, result.champion) == (
        None,
        None,
        None,
        None,
    )
    assert result.notes[-1].startswith("no champion: the candidate is not a registered version")
    stored = RegistryClient(settings).get_evaluation(result.id)
    assert (stored["model"], stored["model_uri"]) == (None, str(folder))


def test_move_status_false_keeps_the_status(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        gates=["accuracy >= 0.99"],
        move_status=False,
        settings=settings,
        **QUICK,
    )
    assert result.passed is False
    assert result.status is None
    assert registry.get_version("cancer", version.version).status is VersionStatus.REGISTERED


def test_with_the_infra_check_off_an_infra_gate_fails(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri, cancer.holdout, "target", gates=["infra"], settings=settings, **QUICK
    )
    assert result.infra is None
    assert result.reasons == [
        "infra: the infra check was turned off (infra_check=False); run with it on"
    ]


def test_to_dict_is_plain_data(settings: Settings, register: Register, cancer: Cancer) -> None:
    import json

    version = register(_fit(cancer), cancer.X.head(5))
    result = evaluate(
        version.uri,
        cancer.holdout,
        "target",
        slices=["group"],
        gates=["f1 >= champion"],
        settings=settings,
        **QUICK,
    )
    body = json.loads(json.dumps(result.to_dict()))
    assert body["gates"][0]["gate"] == "f1 >= champion"
    assert body["slices"]["group"]["a"]["rows"] > 0
    assert set(pd.DataFrame(body["slices"]["group"]).index) >= {"rows", "accuracy", "f1"}


def test_a_package_logged_in_a_run_is_evaluated_and_linked_to_the_run(
    settings: Settings, cancer: Cancer
) -> None:
    fluent.configure(home=str(settings.home), db_url=settings.db_url)
    with fluent.start_run(experiment="evaluation") as run:
        info = fluent.log_model(_fit(cancer), input_example=cancer.X.head(5))
    result = evaluate(
        info.uri, cancer.holdout, "target", gates=["accuracy >= 0.5"], settings=settings, **QUICK
    )
    assert (result.model_uri, result.model, result.passed) == (info.uri, None, True)
    with open_store(settings.db_url).read() as conn:
        edges = edges_of(conn, ("evaluation", result.id), "out")
    assert [(e["edge"], e["dst_kind"], e["dst_id"]) for e in edges] == [("consumed", "run", run.id)]


def test_a_champion_that_cannot_run_on_the_data_is_skipped_with_the_reason(
    settings: Settings, registry: RegistryClient, register: Register, cancer: Cancer
) -> None:
    wider = cancer.train.assign(extra=1.0)
    old = LogisticRegression(max_iter=5000).fit(wider[[*FEATURES, "extra"]], cancer.y)
    first = register(old, wider[[*FEATURES, "extra"]].head(5))
    registry.set_alias("cancer", "staging", first.version)
    second = register(_fit(cancer), cancer.X.head(5))

    result = evaluate(
        second.uri,
        cancer.holdout,  # no "extra" column: the old version's signature needs it
        "target",
        champion="staging",
        gates=["f1 >= champion"],
        settings=settings,
        **QUICK,
    )
    assert result.champion is None
    [gate] = result.gates
    assert gate.skipped
    assert gate.reason.startswith(
        "no champion: models:/cancer@staging (version 1) could not be measured: SignatureError: "
    )
    assert "'extra'" in gate.reason
    assert gate.reason in result.notes
    assert result.passed is True


def test_labels_must_all_be_there_and_nullable_numbers_work(
    settings: Settings, register: Register, cancer: Cancer
) -> None:
    version = register(_fit(cancer), cancer.X.head(5))
    nullable = cancer.holdout.astype({"target": "Int64"})
    result = evaluate(version.uri, nullable, "target", settings=settings, **QUICK)
    assert result.metrics["accuracy"] > 0.5
    nullable.loc[3, "target"] = pd.NA
    with pytest.raises(InvalidInputError, match="has 1 missing label"):
        evaluate(version.uri, nullable, "target", settings=settings, **QUICK)
