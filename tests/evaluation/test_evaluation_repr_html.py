"""Notebook display of evaluation results: metrics, gates and the verdict, escaped."""

from __future__ import annotations

from loopml.evaluation.models import EvaluationResult, GateResult


def test_an_evaluation_renders_its_gates_and_metrics_escaped() -> None:
    result = EvaluationResult(
        id="e1",
        model_uri="models:/churn/4",
        model="churn",
        version=4,
        data="datasets:/<script>x</script>/1",
        target="churned",
        task="classification",
        metrics={"f1": 0.91234567, "accuracy": 0.9},
        slices={},
        champion=None,
        gates=[
            GateResult("f1 >= 0.8", False, False, "f1 0.741 < 0.8"),
            GateResult("accuracy >= 0.85", True, False, "accuracy 0.9 >= 0.85"),
        ],
        passed=False,
        notes=["no predict_proba: <roc_auc> not measured"],
        status="rejected",
    )

    html = result._repr_html_()

    assert "Evaluation of models:/churn/4" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "f1 = 0.912346" in html
    assert "f1 &gt;= 0.8 = FAIL: f1 0.741 &lt; 0.8" in html
    assert "accuracy &gt;= 0.85 = pass" in html
    assert "failed" in html
    assert "rejected" in html
    assert "&lt;roc_auc&gt;" in html
