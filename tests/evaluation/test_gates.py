"""Gates: the grammar (parse, canonical text, errors) and how each kind judges."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.evaluation.gates import (
    GRAMMAR,
    OPS,
    ChangeGate,
    GapGate,
    Gate,
    GateContext,
    InfraGate,
    MetricGate,
    check_gates,
    evaluate_gates,
    parse_gate,
)
from loopml.evaluation.models import InfraResult

# -- grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gate", "canonical"),
    [
        ("accuracy >= 0.9", MetricGate("accuracy", ">=", 0.9), "accuracy >= 0.9"),
        ("  r2>-1.5e-3 ", MetricGate("r2", ">", -0.0015), "r2 > -0.0015"),
        (
            "latency_ms_per_row <= 5",
            MetricGate("latency_ms_per_row", "<=", 5.0),
            "latency_ms_per_row <= 5",
        ),
        ("package_size_mb<50.0", MetricGate("package_size_mb", "<", 50.0), "package_size_mb < 50"),
        ("f1 >= champion", ChangeGate("f1", ">="), "f1 >= champion"),
        ("f1>=champion-0.01", ChangeGate("f1", ">=", "-", 0.01), "f1 >= champion - 0.01"),
        ("rmse <= champion * 1.05", ChangeGate("rmse", "<=", "*", 1.05), "rmse <= champion * 1.05"),
        (
            "gap(recall, by=sex) <= 0.05",
            GapGate("recall", "sex", "<=", 0.05),
            "gap(recall, by=sex) <= 0.05",
        ),
        (
            'gap( f1 ,by = "age band" )<.1',
            GapGate("f1", "age band", "<", 0.1),
            'gap(f1, by="age band") < 0.1',
        ),
        (" infra ", InfraGate(), "infra"),
    ],
)
def test_each_kind_parses_to_its_gate_and_canonical_text(
    text: str, gate: Gate, canonical: str
) -> None:
    assert parse_gate(text) == gate
    assert str(gate) == canonical
    assert parse_gate(canonical) == gate


def test_gate_kinds() -> None:
    kinds = [
        parse_gate(text).kind
        for text in (
            "accuracy >= 0.9",
            "latency_ms_per_row <= 5",
            "f1 >= champion",
            "gap(f1, by=sex) < 0.1",
            "infra",
        )
    ]
    assert kinds == ["absolute", "budget", "change", "gap", "infra"]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("accuracy => 0.9", "did you mean '>='?"),
        ("accuracy = 0.9", "use == to compare for equality"),
        ("accuracy != 0.9", "'!=' is not supported"),
        ("", "the gate is empty"),
        ("accuracy >= high", ""),
        ("f1 >= champion - -0.1", ""),
        ("gap(recall) <= 0.1", ""),
        ("accuracy >= 0.9 and f1 >= 0.8", ""),
    ],
)
def test_bad_syntax_shows_the_grammar(text: str, hint: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_gate(text)
    message = str(caught.value)
    assert message.startswith(f"invalid gate {text!r}")
    assert hint in message
    assert GRAMMAR in message
    assert caught.value.details["gate"] == text


def test_infinite_numbers_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not a finite number"):
        parse_gate("rmse <= 1e999")


def test_an_unknown_metric_lists_the_metrics_of_the_task() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_gates([parse_gate("acuracy >= 0.9")], "classification")
    message = str(caught.value)
    assert "gate 'acuracy >= 0.9' names unknown metric 'acuracy'; did you mean accuracy?" in message
    assert "accuracy, precision, recall, f1, roc_auc, log_loss, calibration_error" in message
    assert caught.value.details["known"][-1] == "package_size_mb"
    with pytest.raises(InvalidInputError, match="a regression evaluation computes: rmse, mae, r2"):
        check_gates([parse_gate("f1 >= champion")], "regression")


def test_a_gap_needs_a_per_group_metric() -> None:
    with pytest.raises(InvalidInputError, match="latency_ms_per_row is measured over the whole"):
        check_gates([parse_gate("gap(latency_ms_per_row, by=sex) < 1")], "classification")
    check_gates([parse_gate("gap(mae, by=site) < 1"), InfraGate()], "regression")


# Hypothesis: any gate, spelled canonically, parses back to itself.

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name not in ("champion", "infra", "gap")
)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
_amounts = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
_columns = st.one_of(
    _names,
    st.text(st.characters(exclude_characters='"\x00'), min_size=1, max_size=10).filter(
        lambda s: s.strip() == s
    ),
)
_gates = st.one_of(
    st.builds(MetricGate, _names, st.sampled_from(OPS), _numbers),
    st.builds(ChangeGate, _names, st.sampled_from(OPS)),
    st.builds(ChangeGate, _names, st.sampled_from(OPS), st.sampled_from("+-*"), _amounts),
    st.builds(GapGate, _names, _columns, st.sampled_from(OPS), _numbers),
    st.just(InfraGate()),
)


@given(_gates)
def test_canonical_text_round_trips(gate: Gate) -> None:
    text = str(gate)
    assert parse_gate(text) == gate
    assert str(parse_gate(text)) == text


@given(_gates, st.sampled_from(["", " ", "  ", "\t"]))
@example(GapGate("A", ")", ">=", 0.0), " ")
def test_spaces_around_tokens_do_not_matter(gate: Gate, pad: str) -> None:
    text = str(gate)
    if isinstance(gate, GapGate):
        # Pad only the gap's own parentheses: a quoted column may hold "(" or ")" itself.
        opening, closing = text.index("("), text.rindex(")")
        text = f"{text[: opening + 1]}{pad}{text[opening + 1 : closing]}{pad}{text[closing:]}"
    else:
        text = text.replace("(", f"({pad}").replace(")", f"{pad})")
    assert parse_gate(pad + text + pad) == gate


# -- judging ---------------------------------------------------------------------------


def _judge(text: str, **context: object) -> tuple[bool, bool, str]:
    [result] = evaluate_gates([text], GateContext(**context))  # type: ignore[arg-type]
    return result.passed, result.skipped, result.reason


def test_absolute_gates_say_what_was_compared() -> None:
    assert _judge("accuracy >= 0.9", metrics={"accuracy": 0.93}) == (
        True,
        False,
        "accuracy 0.93 >= 0.9",
    )
    assert _judge("accuracy >= 0.9", metrics={"accuracy": 0.85}) == (
        False,
        False,
        "accuracy 0.85 < 0.9",
    )
    assert _judge("log_loss == 0.3", metrics={"log_loss": 0.1 + 0.2})[0]  # 0.30000000000000004


def test_budgets_are_upper_bounds() -> None:
    metrics = {"latency_ms_per_row": 0.02, "package_size_mb": 61.5}
    assert _judge("latency_ms_per_row <= 5", metrics=metrics)[0]
    assert _judge("package_size_mb <= 50", metrics=metrics) == (
        False,
        False,
        "package_size_mb 61.5 > 50",
    )


def test_a_metric_that_was_not_measured_fails_with_the_note() -> None:
    note = "roc_auc, log_loss and calibration_error need predict_proba; the model has none"
    passed, skipped, reason = _judge("roc_auc >= 0.8", metrics={"accuracy": 1.0}, notes=[note])
    assert (passed, skipped) == (False, False)
    assert reason == f"roc_auc was not measured: {note}"


def test_change_gates_compare_with_the_champion() -> None:
    champion = {"f1": 0.92, "rmse": 10.0}
    assert _judge("f1 >= champion - 0.01", metrics={"f1": 0.915}, champion=champion) == (
        True,
        False,
        "f1 0.915 >= 0.91 (champion 0.92 - 0.01)",
    )
    assert _judge("f1 >= champion", metrics={"f1": 0.9}, champion=champion) == (
        False,
        False,
        "f1 0.9 < 0.92 (champion 0.92)",
    )
    assert _judge("rmse <= champion * 1.05", metrics={"rmse": 10.6}, champion=champion)[0] is False
    assert _judge("f1 > champion + 0.05", metrics={"f1": 0.98}, champion=champion)[0] is True


def test_change_gates_are_skipped_without_a_champion() -> None:
    reason = "no champion: models:/churn@production does not exist"
    assert _judge("f1 >= champion", metrics={"f1": 0.9}, no_champion=reason) == (
        False,
        True,
        reason,
    )
    passed, skipped, why = _judge("roc_auc >= champion", metrics={"roc_auc": 0.9}, champion={})
    assert (passed, skipped, why) == (False, True, "the champion has no roc_auc")


def test_a_gap_gate_compares_the_best_and_worst_group() -> None:
    slices = {
        "sex": {
            "F": {"recall": 0.55, "rows": 40},
            "M": {"recall": 0.86, "rows": 60},
            "X": {"rows": 1},
        }
    }
    assert _judge("gap(recall, by=sex) <= 0.05", metrics={}, slices=slices) == (
        False,
        False,
        "gap in recall across sex is 0.31 (lowest F 0.55, highest M 0.86) > 0.05",
    )
    assert _judge("gap(recall, by=sex) <= 0.5", metrics={}, slices=slices)[0]


def test_a_gap_over_one_group_is_zero_and_says_so() -> None:
    slices = {"sex": {"F": {"recall": 0.5}}}
    passed, _, reason = _judge("gap(recall, by=sex) <= 0.05", metrics={}, slices=slices)
    assert passed
    assert reason.startswith("sex has one group (F), so there is no gap")


def test_a_gap_without_its_slice_fails() -> None:
    passed, _, reason = _judge("gap(recall, by=sex) <= 0.05", metrics={})
    assert not passed
    assert reason == "no slice 'sex' was measured; add it to slices"
    slices = {"sex": {"F": {"rows": 1.0}}}
    assert _judge("gap(recall, by=sex) <= 0.05", metrics={}, slices=slices)[2] == (
        "recall was not measured in any group of sex"
    )


def test_the_infra_gate_reports_the_check() -> None:
    broken = InfraResult(ok=False, reason="the package did not load: boom", seconds=1.0)
    assert _judge("infra", metrics={}, infra=broken) == (
        False,
        False,
        "the package did not load: boom",
    )
    assert _judge("infra", metrics={}, no_infra="turned off") == (False, False, "turned off")


def test_results_keep_the_gate_as_written_with_spaces_collapsed() -> None:
    results = evaluate_gates(
        ["accuracy>=0.9", " f1  >= champion ", MetricGate("mae", "<", 2.0)],
        GateContext({"accuracy": 1.0, "f1": 1.0, "mae": 1.0}),
    )
    assert [r.expression for r in results] == ["accuracy>=0.9", "f1 >= champion", "mae < 2"]
    assert [r.kind for r in results] == ["absolute", "change", "absolute"]
    assert results[1].to_dict()["gate"] == "f1 >= champion"


_GATE_CHARACTERS = st.sampled_from(list('acfgimnpry_ .,()=<>!+-*0123456789e"b'))


@given(st.one_of(st.text(alphabet=_GATE_CHARACTERS), st.text()))
def test_any_text_is_a_gate_or_an_invalid_input_error(text: str) -> None:
    try:
        gate = parse_gate(text)
    except InvalidInputError as err:
        message = str(err)
    else:
        assert parse_gate(str(gate)) == gate
        return
    assert GRAMMAR in message or "not a finite number" in message
