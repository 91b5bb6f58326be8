"""The run-search filter language: parsing, canonical spelling and error messages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInputError
from loopml.store.schema import runs
from loopml.tracking.search import (
    And,
    Comparison,
    FilterNode,
    Or,
    compile_filter,
    compile_order_by,
    parse_filter,
)
from strategies import filter_nodes

A = Comparison("metrics", "a", "=", 1.0)
B = Comparison("metrics", "b", "=", 2.0)
C = Comparison("metrics", "c", "=", 3.0)
D = Comparison("metrics", "d", "=", 4.0)


def parse(text: str) -> FilterNode:
    node = parse_filter(text)
    assert node is not None
    return node


def error_of(text: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        parse_filter(text)
    return caught.value


def caret_column(err: InvalidInputError) -> int:
    """The 1-based column the caret line points at."""
    caret_line = err.message.splitlines()[-1]
    return caret_line.index("^") - len("    ") + 1


# -- structure ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_filters_mean_no_filter(text: str) -> None:
    assert parse_filter(text) is None
    assert compile_filter(text) is None


def test_no_filter_compiles_to_none() -> None:
    assert compile_filter(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.a = 1 OR metrics.b = 2 AND metrics.c = 3", Or((A, And((B, C))))),
        ("metrics.a = 1 AND metrics.b = 2 OR metrics.c = 3", Or((And((A, B)), C))),
        (
            "metrics.a = 1 AND metrics.b = 2 OR metrics.c = 3 AND metrics.d = 4",
            Or((And((A, B)), And((C, D)))),
        ),
        ("(metrics.a = 1 OR metrics.b = 2) AND metrics.c = 3", And((Or((A, B)), C))),
        ("metrics.a = 1 AND (metrics.b = 2 OR metrics.c = 3)", And((A, Or((B, C))))),
        ("metrics.a = 1 OR (metrics.b = 2 OR metrics.c = 3)", Or((A, Or((B, C))))),
        ("metrics.a = 1 OR metrics.b = 2 OR metrics.c = 3", Or((A, B, C))),
        ("metrics.a = 1 AND metrics.b = 2 AND metrics.c = 3", And((A, B, C))),
        ("((metrics.a = 1))", A),
        ("(metrics.a = 1 and metrics.b = 2)", And((A, B))),
        ("metrics.a = 1 and metrics.b = 2 Or metrics.c = 3", Or((And((A, B)), C))),
        ("metrics.a=1AND metrics.b=2", None),  # '1AND' is one word, not a number
    ],
)
def test_and_binds_tighter_than_or_and_parentheses_group(
    text: str, expected: FilterNode | None
) -> None:
    if expected is None:
        with pytest.raises(InvalidInputError, match="unexpected '1AND'"):
            parse_filter(text)
    else:
        assert parse(text) == expected


@pytest.mark.parametrize(
    ("spelling", "op"),
    [
        ("=", "="),
        ("==", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
    ],
)
def test_every_symbol_operator(spelling: str, op: str) -> None:
    assert parse(f"metrics.acc {spelling} 0.5") == Comparison("metrics", "acc", op, 0.5)
    assert parse(f"metrics.acc{spelling}0.5") == Comparison("metrics", "acc", op, 0.5)


@pytest.mark.parametrize(
    ("spelling", "op"),
    [
        ("LIKE", "LIKE"),
        ("like", "LIKE"),
        ("ILIKE", "ILIKE"),
        ("iLike", "ILIKE"),
        ("NOT LIKE", "NOT LIKE"),
        ("not   like", "NOT LIKE"),
        ("NOT ILIKE", "NOT ILIKE"),
        ("=", "="),
        ("!=", "!="),
    ],
)
def test_every_text_operator(spelling: str, op: str) -> None:
    assert parse(f"params.model {spelling} 'r%'") == Comparison("params", "model", op, "r%")


def test_lists_and_null_tests() -> None:
    assert parse("params.m IN ('rf', \"gbm\")") == Comparison("params", "m", "IN", ("rf", "gbm"))
    assert parse("params.m not in ('rf')") == Comparison("params", "m", "NOT IN", ("rf",))
    assert parse("metrics.x IN (1, 2.5,-3)") == Comparison("metrics", "x", "IN", (1.0, 2.5, -3.0))
    assert parse("tags.t IS NULL") == Comparison("tags", "t", "IS NULL")
    assert parse("tags.t is not null") == Comparison("tags", "t", "IS NOT NULL")
    assert parse("end_time IS NULL") == Comparison("attributes", "end_time", "IS NULL")


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metrics", "metrics"),
        ("metric", "metrics"),
        ("METRICS", "metrics"),
        ("params", "params"),
        ("param", "params"),
        ("tags", "tags"),
        ("tag", "tags"),
    ],
)
def test_entity_prefixes_and_their_aliases(prefix: str, entity: str) -> None:
    value: float | str = 1.0 if entity == "metrics" else "1"
    assert parse(f"{prefix}.k = 1") == Comparison(entity, "k", "=", value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("identifier", "attribute"),
    [
        ("status", "status"),
        ("STATUS", "status"),
        ("attributes.status", "status"),
        ("attribute.status", "status"),
        ("attr.status", "status"),
        ("run.status", "status"),
        ("attributes.`status`", "status"),
        ("id", "run_id"),
        ("run_id", "run_id"),
        ("attributes.id", "run_id"),
        ("name", "run_name"),
        ("run_name", "run_name"),
        ("experiment_id", "experiment_id"),
        ("parent_run_id", "parent_run_id"),
        ("user", "user"),
    ],
)
def test_attributes_with_or_without_prefix(identifier: str, attribute: str) -> None:
    assert parse(f"{identifier} = 'x'") == Comparison("attributes", attribute, "=", "x")


def test_time_attributes_are_numbers() -> None:
    assert parse("start_time >= 1700000000000") == Comparison(
        "attributes", "start_time", ">=", 1700000000000
    )
    assert parse("end_time < 1.7e12") == Comparison(
        "attributes", "end_time", "<", 1_700_000_000_000
    )
    assert parse("attributes.end_time IN (1, 2)") == Comparison(
        "attributes", "end_time", "IN", (1, 2)
    )


# -- keys, strings and numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.val_loss", "val_loss"),
        ("metrics.val-loss", "val-loss"),
        ("metrics.a.b/c:d", "a.b/c:d"),
        ("metrics.1st", "1st"),
        ("metrics.`val loss`", "val loss"),
        ("metrics.`val-loss (smoothed)`", "val-loss (smoothed)"),
        ("metrics.`with``backquote`", "with`backquote"),
        ("metrics.`and`", "and"),
        ('metrics."double quoted key"', "double quoted key"),
        ('metrics."say ""hi"""', 'say "hi"'),
        ("metrics.`ünïcode ключ`", "ünïcode ключ"),
    ],
)
def test_key_spellings(text: str, key: str) -> None:
    assert parse(f"{text} > 0") == Comparison("metrics", key, ">", 0.0)


def test_keys_are_case_sensitive_but_keywords_are_not() -> None:
    node = parse("Metrics.Acc > 0 oR params.LR = 'x'")
    assert node == Or(
        (Comparison("metrics", "Acc", ">", 0.0), Comparison("params", "LR", "=", "x"))
    )


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'\"'", '"'),
        ('"\'"', "'"),
        ("'back\\\\slash'", "back\\slash"),
        ("'50\\%'", "50\\%"),  # unknown escapes keep their backslash (LIKE uses it)
        ("''", ""),
        ("'  spaces  '", "  spaces  "),
        ("'multi\nline'", "multi\nline"),
        ("'AND OR ( ) ='", "AND OR ( ) ="),
    ],
)
def test_string_quoting_and_escaping(literal: str, value: str) -> None:
    assert parse(f"tags.note = {literal}") == Comparison("tags", "note", "=", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("0", 0.0),
        ("42", 42.0),
        ("-3", -3.0),
        ("+3", 3.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("5.", 5.0),
        ("-1.5e-3", -1.5e-3),
        ("2E+10", 2e10),
        ("inf", math.inf),
        ("-inf", -math.inf),
        ("Infinity", math.inf),
    ],
)
def test_metric_numbers(literal: str, value: float) -> None:
    assert parse(f"metrics.x < {literal}") == Comparison("metrics", "x", "<", value)


def test_nan_is_a_number_that_equals_itself_in_the_tree() -> None:
    node = parse("metrics.loss = NaN")
    assert isinstance(node, Comparison)
    assert isinstance(node.value, float)
    assert math.isnan(node.value)
    assert node == parse("metrics.loss = nan")
    assert node == Comparison("metrics", "loss", "=", float("nan"))
    assert parse("metrics.l in (nan, 1)") == Comparison("metrics", "l", "IN", (math.nan, 1.0))


def test_numbers_given_for_text_are_compared_as_written() -> None:
    assert parse("params.lr = 0.10") == Comparison("params", "lr", "=", "0.10")
    assert parse("params.depth IN (5, 1e3)") == Comparison("params", "depth", "IN", ("5", "1e3"))
    assert parse("run_name = 7") == Comparison("attributes", "run_name", "=", "7")


# -- canonical spelling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("metric.acc>=0.9", "metrics.acc >= 0.9"),
        ("metrics.`val loss` <> 1", "metrics.`val loss` != 1.0"),
        ('params."a b" == "x"', "params.`a b` = 'x'"),
        ("tags.t = 'it''s \\\\ ok'", "tags.t = 'it''s \\\\ ok'"),
        (
            "name like 'rf%' or id in ('a','b')",
            "attributes.run_name LIKE 'rf%' OR attributes.run_id IN ('a', 'b')",
        ),
        (
            "(metrics.a=1 or metrics.b=2) and metrics.c=3",
            "(metrics.a = 1.0 OR metrics.b = 2.0) AND metrics.c = 3.0",
        ),
        (
            "metrics.a=1 and (metrics.b=2 and metrics.c=3)",
            "metrics.a = 1.0 AND (metrics.b = 2.0 AND metrics.c = 3.0)",
        ),
        ("metrics.x = -inf or metrics.y != nan", "metrics.x = -inf OR metrics.y != nan"),
        ("user is not null", "attributes.user IS NOT NULL"),
        ("metrics.`a``b` > 1e-05", "metrics.`a``b` > 1e-05"),
    ],
)
def test_str_is_the_canonical_spelling(text: str, canonical: str) -> None:
    node = parse(text)
    assert str(node) == canonical
    assert parse(canonical) == node


@settings(max_examples=400)
@given(filter_nodes())
def test_canonical_spelling_parses_back_to_the_same_tree(node: FilterNode) -> None:
    assert parse_filter(str(node)) == node


@settings(max_examples=400)
@given(st.text())
def test_arbitrary_text_only_ever_raises_invalid_input(text: str) -> None:
    try:
        node = parse_filter(text)
    except InvalidInputError as err:
        message = err.message
    else:
        assert node is None or parse_filter(str(node)) == node
        return
    assert message.startswith("invalid filter at ")
    assert "^" in message.splitlines()[-1]


_NEAR_GRAMMAR = st.lists(
    st.sampled_from(
        [
            "metrics.acc",
            "params.p",
            "tags.`t t`",
            "status",
            "start_time",
            "metrcs.x",
            "AND",
            "OR",
            "NOT",
            "IN",
            "IS",
            "NULL",
            "LIKE",
            "ILIKE",
            "(",
            ")",
            ",",
            "=",
            "!=",
            "<",
            ">=",
            "<>",
            "'a'",
            "'b''c'",
            '"d"',
            "1",
            "-2.5e3",
            "nan",
            "inf",
            "x",
            "`k`",
            "'",
            "`",
            "!",
            "\n",
            ".",
            "\\",
        ]
    ),
    max_size=12,
).map(" ".join)


@settings(max_examples=600)
@given(_NEAR_GRAMMAR)
def test_almost_valid_filters_only_ever_raise_invalid_input(text: str) -> None:
    try:
        node = parse_filter(text)
    except InvalidInputError:
        return
    if node is not None:
        assert parse_filter(str(node)) == node
        compile_filter(text)


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragments"),
    [
        (
            "metrcs.acc > 1",
            1,
            [
                "unknown entity 'metrcs'",
                "did you mean metrics?",
                "expected metrics, params, tags or attributes",
            ],
        ),
        ("paramz.lr = 'x'", 1, ["unknown entity 'paramz'", "did you mean params?"]),
        ("metrics.a = 1 and tgs.t = 'x'", 19, ["unknown entity 'tgs'", "did you mean tags?"]),
        (
            "stauts = 'x'",
            1,
            ["unknown attribute 'stauts'", "did you mean status?", "metrics.stauts"],
        ),
        (
            "attributes.run_nme = 'x'",
            12,
            ["unknown attribute 'run_nme'", "did you mean run_name or run_id?"],
        ),
        ("acc > 0.5", 1, ["unknown attribute 'acc'", "write metrics.acc, params.acc or tags.acc"]),
        (".acc > 0.5", 1, ["missing entity before '.'"]),
        ("metrics.a = 'nul\x00'", 17, ["unexpected character '\\x00'", "expected printable text"]),
        (
            "metrics.acc > 'high'",
            15,
            ["metric 'acc' is a number and cannot be compared with a string"],
        ),
        ("metrics.acc > '0.5'", 15, ["(remove the quotes)"]),
        ("metrics.acc IN (1, 'x')", 20, ["metric 'acc' is a number"]),
        (
            "metrics.acc LIKE '0.%'",
            13,
            ["metric 'acc' is a number, so it cannot be matched with LIKE"],
        ),
        ("metrics.acc > nan", 15, ["NaN cannot be compared with >", "expected = nan or != nan"]),
        (
            "params.lr < 0.1",
            11,
            ["param 'lr' is text (params are stored as strings)", "cannot be compared with <"],
        ),
        ("tags.t >= 'a'", 8, ["tag 't' is text, so it cannot be compared with >="]),
        ("run_name > 'a'", 10, ["attribute run_name is text"]),
        ("start_time > 'yesterday'", 14, ["attribute start_time is a number", "Unix milliseconds"]),
        ("start_time > 1e30", 14, ["1e30 is not a time"]),
        ("end_time = nan", 12, ["nan is not a time"]),
        (
            "end_time LIKE '1%'",
            10,
            ["attribute end_time is a number, so it cannot be matched with LIKE"],
        ),
        ("metrics.a = 1 b", 15, ["unexpected 'b'", "expected AND, OR or the end of the filter"]),
        ("metrics.a = 1 AND", 18, ["unexpected end of input", "expected an identifier"]),
        (
            "(metrics.a = 1",
            15,
            ["unexpected end of input", "expected AND, OR or ')' to close the '(' at column 1"],
        ),
        ("metrics.a = 1)", 14, ["unexpected ')'", "expected AND, OR or the end"]),
        ("()", 2, ["unexpected ')'", "expected an identifier"]),
        ("metrics.a =", 12, ["unexpected end of input", "expected a number or a quoted string"]),
        ("metrics.a", 10, ["unexpected end of input", "expected an operator: =, !="]),
        ("metrics.a <", 12, ["unexpected end of input", "expected a number"]),
        ("metrics.a ~ 1", 11, ["unexpected character '~'"]),
        ("metrics.a ! 1", 11, ["unexpected '!'", "expected !="]),
        ("params.p = abc", 12, ["unexpected 'abc'", "put text in quotes: 'abc'"]),
        ("params.p = NULL", 12, ["NULL is not a value", "IS NULL or IS NOT NULL"]),
        ("params.p = 'abc", 12, ["unterminated quoted string", "expected a closing '"]),
        ('params.p = "abc', 12, ["unterminated quoted string", 'expected a closing "']),
        ("metrics.`abc > 1", 9, ["unterminated quoted name", "expected a closing `"]),
        ("metrics.`` > 1", 9, ["empty key"]),
        ("metrics. acc > 1", 9, ["missing key after 'metrics.'", "metrics.`val loss`"]),
        ("metrics.'acc' > 1", 9, ["missing key after 'metrics.'"]),
        ("metrics.a IN 1", 14, ["unexpected '1'", "'(' starting a list of values"]),
        ("metrics.a IN ()", 15, ["unexpected ')'", "expected a number or a quoted string"]),
        (
            "metrics.a IN (1, 2",
            19,
            ["unexpected end of input", "expected ',' or ')' to end the list"],
        ),
        ("metrics.a IN (1,)", 17, ["unexpected ')'"]),
        ("metrics.a NOT 1", 15, ["unexpected '1'", "expected IN, LIKE or ILIKE after NOT"]),
        ("metrics.a IS 1", 14, ["unexpected '1'", "expected NULL after IS"]),
        ("metrics.a IS NOT", 17, ["expected NULL after IS NOT"]),
        ("NOT metrics.a = 1", 1, ["unexpected keyword NOT", "negate a comparison with !="]),
        ("AND metrics.a = 1", 1, ["unexpected keyword AND"]),
        ("'metrics.a' = 1", 1, ["unexpected quoted 'metrics.a'", "expected an identifier"]),
        ("metrics.a = 1 && metrics.b = 2", 15, ["unexpected character '&'", "expected AND"]),
        ("metrics.a = 1 || metrics.b = 2", 15, ["unexpected character '|'", "expected OR"]),
        ("metrics.accé > 1", 12, ["unexpected character 'é'", "backquotes"]),
        ("params.p LIKE 'x\\\\'", 15, ["a LIKE pattern cannot end with a lone backslash"]),
    ],
)
def test_errors_point_at_the_problem_and_say_what_was_expected(
    text: str, column: int, fragments: list[str]
) -> None:
    err = error_of(text)
    first_line, quoted_line, _caret = err.message.splitlines()
    assert first_line.startswith(f"invalid filter at column {column}: ")
    for fragment in fragments:
        assert fragment in first_line
    assert quoted_line == f"    {text}"
    assert caret_column(err) == column
    assert err.details["position"] == column - 1
    assert err.details["filter"] == text
    assert err.code == "invalid_input"


def test_error_details_carry_the_suggestions() -> None:
    err = error_of("metrcs.acc > 1")
    assert err.details["suggestions"] == ["metrics"]
    assert err.details["expected"] == "metrics, params, tags or attributes"


def test_the_caret_underlines_the_whole_culprit() -> None:
    err = error_of("metrics.a = 1 and metrcs.b = 2")
    assert err.message.splitlines()[-1] == "    " + " " * 18 + "^" * 6


def test_errors_in_multi_line_filters_name_the_line() -> None:
    err = error_of("metrics.a = 1\n  AND tags.t = 'x'\n  AND stauts = 'done'")
    first_line, quoted_line, caret_line = err.message.splitlines()
    assert first_line.startswith("invalid filter at line 3, column 7: unknown attribute 'stauts'")
    assert quoted_line == "      AND stauts = 'done'"
    assert caret_line == "          ^^^^^^"
    assert err.details["line"] == 3


def test_the_caret_lines_up_after_tabs() -> None:
    err = error_of("\tmetrics.a = 'x'")
    assert err.message.splitlines()[-1] == "    \t            ^^^"


def test_nesting_and_size_are_bounded() -> None:
    deep = "(" * 60 + "metrics.a = 1" + ")" * 60
    with pytest.raises(InvalidInputError, match="more than 50 nested parentheses"):
        parse_filter(deep)
    assert parse("(" * 50 + "metrics.a = 1" + ")" * 50) == Comparison("metrics", "a", "=", 1.0)
    long = " OR ".join(f"metrics.m{i} = {i}" for i in range(201))
    with pytest.raises(InvalidInputError, match="more than 200 comparisons"):
        parse_filter(long)
    huge_list = "params.p IN (" + ", ".join(["'x'"] * 5001) + ")"
    with pytest.raises(InvalidInputError, match="more than 5000 values"):
        parse_filter(huge_list)


# -- order by ----------------------------------------------------------------------------


def test_default_order_is_newest_first() -> None:
    no_items: list[list[str] | None] = [None, []]
    for items in no_items:
        clauses = compile_order_by(items)
        assert [str(c) for c in clauses] == ["runs.start_time DESC", "runs.id DESC"]


@pytest.mark.parametrize(
    ("item", "rendered"),
    [
        ("start_time", "runs.start_time ASC NULLS LAST"),
        ("start_time asc", "runs.start_time ASC NULLS LAST"),
        ("attributes.run_name DESC", "runs.name DESC NULLS LAST"),
        ("end_time Desc", "runs.end_time DESC NULLS LAST"),
        ("name", "runs.name ASC NULLS LAST"),
    ],
)
def test_order_by_attributes(item: str, rendered: str) -> None:
    first, tie_breaker = compile_order_by([item])
    assert str(first) == rendered
    assert tie_breaker is runs.c.id


@pytest.mark.parametrize(
    ("item", "table", "direction"),
    [
        ("metrics.acc desc", "latest_metrics", "DESC"),
        ("metric.`val loss`", "latest_metrics", "ASC"),
        ("params.lr ASC", "params", "ASC"),
        ("tags.team desc", "tags", "DESC"),
    ],
)
def test_order_by_keys_uses_scalar_subqueries(item: str, table: str, direction: str) -> None:
    first, _ = compile_order_by([item])
    rendered = str(first)
    assert rendered.startswith(f"(SELECT {table}.value")
    assert rendered.endswith(f") {direction} NULLS LAST")


def test_a_single_order_string_is_one_item() -> None:
    assert len(compile_order_by("metrics.acc desc")) == 2


@pytest.mark.parametrize(
    ("item", "fragments"),
    [
        ("metrics.acc descending", ["unexpected 'descending'", "expected ASC, DESC"]),
        ("metrics.acc dsc", ["did you mean DESC?"]),
        (
            "metrics.acc desc, params.lr",
            ["unexpected ','", "expected the end of the order_by item"],
        ),
        ("metrcs.acc", ["unknown entity 'metrcs'", "did you mean metrics?"]),
        ("stat", ["unknown attribute 'stat'", "did you mean status?"]),
        ("", ["unexpected end of input", "expected an identifier"]),
        ("metrics.acc > 1", ["unexpected '>'"]),
    ],
)
def test_order_by_errors(item: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        compile_order_by(["start_time", item])
    message = caught.value.message
    assert message.startswith("invalid order_by item at column ")
    for fragment in fragments:
        assert fragment in message
    assert caught.value.details["order_by_item"] == item
