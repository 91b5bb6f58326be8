"""Compiled filters and orderings select the right runs on real SQLite and PostgreSQL.

The fixture is ~30 runs with params, tags and latest metrics (NaN, infinities and missing
keys included). Expected results come from a plain-Python reading of the same filter over
the same data (:func:`holds`), and a few are also spelled out by hand.
"""

from __future__ import annotations

import functools
import math
import re
import string
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import Engine, create_engine, insert, select

from loopml.store.schema import experiments, latest_metrics, metadata, params, runs, tags
from loopml.tracking.search import (
    And,
    Comparison,
    FilterNode,
    Or,
    compile_filter,
    compile_order_by,
    parse_filter,
)
from strategies import SPELLABLE, comparisons, filter_nodes, like_patterns

NAN = math.nan
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class FakeRun:
    id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    experiment_id: str
    parent_run_id: str | None
    user: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


NAMES = ["rf-base", "RF-tuned", "gbm_v1", "gbm%v2", "linear", "mlp", "Mlp-big", "it's", "b\\s"]
MODELS = ["rf", "RF", "gbm", "linear", "Rf"]
LRS = ["0.1", "0.01", "0.001", "1e-3"]
TEAMS = ["growth", "Growth", "core", "GROWTH", "data-core"]
NOTES = ["it's fine", 'say "hi"', "50% done", "a_b", "back\\slash", "[x]*?", ""]
LOSSES = [0.5, 0.25, math.inf, -math.inf, 1e-9, 0.125, NAN]


def _make_run(i: int) -> FakeRun:
    status = ["finished", "failed", "running", "killed"][i % 4]
    start = T0 + (i * 7 % 10) * 1000  # three runs share each start time
    run_params = {"model": MODELS[i % 5], "depth": str(i % 4 + 1)}
    if i % 7:
        run_params["lr"] = LRS[i % 4]
    if i % 3 == 0:
        run_params["with space"] = "yes" if i % 2 else "no"
    run_tags = {"note": NOTES[i % 7]}
    if i % 6 != 5:
        run_tags["team"] = TEAMS[i % 5]
    run_metrics = {"loss": LOSSES[i % 7]}
    if i % 8 != 3:
        run_metrics["acc"] = NAN if i % 9 == 4 else round((i * 37 % 29) / 29, 3)
    if i % 4 == 1:
        run_metrics["val-loss"] = -float(i)
    return FakeRun(
        id=f"r{i:02d}",
        name=f"{NAMES[i % 9]}{i}",
        status=status,
        start_time=start,
        end_time=None if status == "running" else start + 100 * i,
        experiment_id="e1" if i % 3 else "e2",
        parent_run_id=f"r{i - 1:02d}" if i % 5 == 0 and i else None,
        user=None if i % 6 == 0 else ["alice", "bob", "Carol"][i % 3],
        params=run_params,
        tags=run_tags,
        metrics=run_metrics,
    )


RUNS = [_make_run(i) for i in range(32)]


def _insert(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(experiments),
            [{"id": e, "name": e, "created_at": T0} for e in ("e1", "e2")],
        )
        conn.execute(
            insert(runs),
            [
                {
                    "id": r.id,
                    "experiment_id": r.experiment_id,
                    "name": r.name,
                    "status": r.status,
                    "start_time": r.start_time,
                    "end_time": r.end_time,
                    "parent_run_id": r.parent_run_id,
                    "user": r.user,
                }
                for r in RUNS
            ],
        )
        conn.execute(
            insert(params),
            [{"run_id": r.id, "key": k, "value": v} for r in RUNS for k, v in r.params.items()],
        )
        conn.execute(
            insert(tags),
            [{"run_id": r.id, "key": k, "value": v} for r in RUNS for k, v in r.tags.items()],
        )
        conn.execute(
            insert(latest_metrics),
            [
                {
                    "run_id": r.id,
                    "key": k,
                    # NaN is stored as a placeholder value with is_nan set, as the store does.
                    "value": 0.0 if math.isnan(v) else v,
                    "is_nan": math.isnan(v),
                    "step": 0,
                    "timestamp": T0,
                }
                for r in RUNS
                for k, v in r.metrics.items()
            ],
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One database per backend for the whole module, filled with :data:`RUNS`."""
    if request.param == "sqlite":
        db = create_engine(f"sqlite:///{tmp_path_factory.mktemp('search') / 'runs.db'}")
        _insert(db)
        yield db
        db.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    name = f"loopml_search_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = create_engine(server.url(name))
    try:
        _insert(db)
        yield db
    finally:
        db.dispose()
        with server.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def search(
    engine: Engine, filter_text: str | None, order_by: Sequence[str] | None = None
) -> list[str]:
    query = select(runs.c.id).order_by(*compile_order_by(order_by))
    where = compile_filter(filter_text)
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return list(conn.scalars(query))


# -- the Python reading of a filter ------------------------------------------------------


def _field(run: FakeRun, node: Comparison) -> str | float | int | None:
    if node.entity == "metrics":
        return run.metrics.get(node.key)
    if node.entity == "params":
        return run.params.get(node.key)
    if node.entity == "tags":
        return run.tags.get(node.key)
    name = {"run_id": "id", "run_name": "name"}.get(node.key, node.key)
    value: str | int | None = getattr(run, name)
    return value


def _like(pattern: str) -> re.Pattern[str]:
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            parts.append(re.escape(pattern[index]))
        else:
            parts.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _ascii_lower(text: str) -> str:
    # What lower() does on SQLite and on PostgreSQL in the C locale the test server uses.
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _number_holds(actual: float, op: str, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(actual) == (op in ("=", "IN"))
    if math.isnan(actual):
        return False
    return {
        "=": actual == expected,
        "!=": actual != expected,
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]


def _text_holds(actual: str, op: str, expected: str) -> bool:
    if op.endswith("ILIKE"):
        actual, expected = _ascii_lower(actual), _ascii_lower(expected)
    if op.endswith("LIKE"):
        return (_like(expected).fullmatch(actual) is not None) != op.startswith("NOT")
    return actual == expected if op == "=" else actual != expected


def holds(run: FakeRun, node: FilterNode) -> bool:
    """Whether ``node`` holds for ``run``, read straight from the filter's documentation."""
    if isinstance(node, And):
        return all(holds(run, item) for item in node.items)
    if isinstance(node, Or):
        return any(holds(run, item) for item in node.items)
    actual = _field(run, node)
    if node.op in ("IS NULL", "IS NOT NULL"):
        return (actual is None) == (node.op == "IS NULL")
    if actual is None:  # a missing key or NULL attribute matches nothing else
        return False
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if isinstance(actual, str):
        texts = [str(v) for v in values]
        if node.key == "status" and node.entity == "attributes":
            actual, texts = actual.lower(), [t.lower() for t in texts]
        if node.op == "IN":
            return actual in texts
        if node.op == "NOT IN":
            return actual not in texts
        return _text_holds(actual, node.op, texts[0])
    numbers = [float(v) for v in values]  # type: ignore[arg-type]
    if node.op == "IN":
        return any(_number_holds(actual, "=", v) for v in numbers)
    if node.op == "NOT IN":
        return all(
            _number_holds(actual, "!=", v) for v in numbers if not math.isnan(v)
        ) and not math.isnan(actual)
    return _number_holds(actual, node.op, numbers[0])


def expected_ids(filter_text: str) -> list[str]:
    node = parse_filter(filter_text)
    return [run.id for run in RUNS if node is None or holds(run, node)]


# -- filters -----------------------------------------------------------------------------

FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5 AND metrics.acc < 0.8",
    "metrics.acc <= 0.2 OR metrics.acc = 1",
    "metrics.acc != 0.5",
    "metrics.acc = nan",
    "metrics.acc != nan",
    "metrics.acc IS NULL",
    "metrics.acc IS NOT NULL",
    "metrics.acc IN (0.0, 0.276, nan)",
    "metrics.acc NOT IN (0.0, 0.276)",
    "metrics.acc NOT IN (nan)",
    "metrics.loss = inf",
    "metrics.loss < -1e300",
    "metrics.loss > 0.2",
    "metrics.loss <> 0.5",
    "metrics.`val-loss` < -10",
    "metrics.val-loss >= -5",
    "metrics.missing > 0 OR metrics.missing IS NULL",
    "params.model = 'rf'",
    "params.model != 'rf'",
    "params.model ILIKE 'rf'",
    "params.model LIKE 'r%'",
    "params.model LIKE 'R%'",
    "params.model NOT LIKE 'r%'",
    "params.model NOT ILIKE 'r%'",
    "params.model IN ('rf', 'gbm')",
    "params.model NOT IN ('rf', 'gbm')",
    "params.lr = 0.01",
    "params.lr = 1e-3",
    "params.lr IS NULL",
    "params.depth IN (1, 3)",
    "params.`with space` = 'yes'",
    'params."with space" IS NOT NULL',
    "tags.team = 'growth'",
    "tags.team ILIKE 'GROWTH'",
    "tags.team LIKE '%core'",
    "tags.team IS NULL OR tags.team = 'core'",
    "tags.note = 'it''s fine'",
    'tags.note = "say \\"hi\\""',
    "tags.note LIKE '50\\% done'",
    "tags.note LIKE '%\\%%'",
    "tags.note LIKE 'a\\_b'",
    "tags.note LIKE 'a_b'",
    "tags.note LIKE '%\\\\\\\\%'",
    "tags.note LIKE '[x]*?'",
    "tags.note LIKE '[%'",
    "tags.note = ''",
    "tags.note LIKE '_%'",
    "status = 'finished'",
    "status = 'FINISHED'",
    "status IN ('Failed', 'killed')",
    "status != 'running'",
    "status LIKE 'F%'",
    "attributes.status NOT IN ('running')",
    "run_name LIKE 'rf%'",
    "run_name ILIKE 'rf%'",
    "name LIKE 'gbm\\%%'",
    "name LIKE 'it''s%'",
    "name = 'b\\\\s8'",
    "run_id = 'r03'",
    "id IN ('r01', 'r02', 'nope')",
    "experiment_id = 'e2'",
    "parent_run_id IS NOT NULL",
    "parent_run_id != 'r04'",
    "user IS NULL",
    "user != 'alice'",
    "user NOT IN ('alice')",
    "start_time > 1700000005000",
    "start_time IN (1700000000000, 1700000001000)",
    "end_time IS NULL",
    "end_time >= 1700000003000",
    "metrics.acc > 0.3 AND (params.model = 'rf' OR tags.team = 'core')",
    "(metrics.acc > 0.3 AND params.model = 'rf') OR tags.team = 'core'",
    "metrics.acc > 0.3 AND params.model = 'rf' OR tags.team = 'core'",
    "(status = 'finished' OR status = 'failed') AND (metrics.loss < 0.3 OR params.lr IS NULL)",
    "metrics.acc > 0.9 OR metrics.acc < 0.1 OR metrics.acc = nan OR metrics.acc IS NULL",
]


@pytest.mark.parametrize("filter_text", FILTERS)
def test_filters_select_what_the_filter_says(engine: Engine, filter_text: str) -> None:
    assert search(engine, filter_text, ["run_id"]) == expected_ids(filter_text)


ATTRIBUTES = [
    "run_id", "run_name", "status", "start_time", "end_time", "experiment_id",
    "parent_run_id", "user",
]  # fmt: skip


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_attribute_filters_and_orders(engine: Engine, attribute: str) -> None:
    for test in ("IS NULL", "IS NOT NULL"):
        text = f"attributes.{attribute} {test}"
        assert search(engine, text, ["run_id"]) == expected_ids(text)
    for direction in ("asc", "desc"):
        items = [f"{attribute} {direction}"]
        assert search(engine, None, items) == expected_order(items)


def test_fixture_covers_the_interesting_cases() -> None:
    # Guard the fixture: the table above is only meaningful if these exist.
    assert any(math.isnan(r.metrics.get("acc", 0.0)) for r in RUNS)
    assert any("acc" not in r.metrics for r in RUNS)
    assert any("lr" not in r.params for r in RUNS)
    assert any(r.user is None for r in RUNS)
    for text in FILTERS[1:]:
        assert 0 < len(expected_ids(text)) < len(RUNS) or "nope" in text or "missing" in text, text


@pytest.mark.parametrize(
    ("filter_text", "ids"),
    [
        ("metrics.acc = nan", ["r04", "r13", "r22", "r31"]),
        ("params.model = 'rf'", ["r00", "r05", "r10", "r15", "r20", "r25", "r30"]),
        ("params.model LIKE 'r%'", ["r00", "r05", "r10", "r15", "r20", "r25", "r30"]),
        ("params.model ILIKE 'r_'", [r.id for r in RUNS if r.params["model"].lower() == "rf"]),
        ("tags.note LIKE '50\\%%'", ["r02", "r09", "r16", "r23", "r30"]),
        ("tags.note LIKE '%\\_%'", ["r03", "r10", "r17", "r24", "r31"]),
        ("user IS NULL AND parent_run_id IS NOT NULL", ["r30"]),
        ("id = 'r01' OR id = 'r02' AND status = 'nope'", ["r01"]),
        ("(id = 'r01' OR id = 'r02') AND status = 'failed'", ["r01"]),
    ],
)
def test_filters_by_hand(engine: Engine, filter_text: str, ids: list[str]) -> None:
    assert search(engine, filter_text, ["run_id"]) == ids
    assert expected_ids(filter_text) == ids


def test_like_patterns_are_bound_not_cached_into_the_sql(engine: Engine) -> None:
    first = search(engine, "run_name LIKE 'rf%'", ["run_id"])
    second = search(engine, "run_name LIKE 'gbm%'", ["run_id"])
    assert first == expected_ids("run_name LIKE 'rf%'")
    assert second == expected_ids("run_name LIKE 'gbm%'")
    assert first
    assert second
    assert first != second


def test_filters_work_inside_larger_queries(engine: Engine) -> None:
    where = compile_filter("metrics.acc > 0.5")
    assert where is not None
    query = (
        select(runs.c.id)
        .select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
        .outerjoin(latest_metrics, latest_metrics.c.run_id == runs.c.id)
        .where(where, experiments.c.name == "e2", latest_metrics.c.key == "loss")
        .order_by(runs.c.id)
    )
    with engine.connect() as conn:
        found = list(conn.scalars(query))
    assert found == [
        r.id for r in RUNS if r.id in expected_ids("metrics.acc > 0.5") and r.experiment_id == "e2"
    ]


_KEYS = st.sampled_from(
    ["acc", "loss", "val-loss", "model", "lr", "depth", "team", "note", "missing"]
)
_STORED_TEXTS = {
    v for r in RUNS for v in (*r.params.values(), *r.tags.values(), r.name, r.id, r.status)
}
_TEXTS = st.sampled_from(
    [*sorted(_STORED_TEXTS), "R", "rf", "FINISHED", "e1", "e2", "alice", "r04", "%", "x"]
)
_NUMBERS = st.sampled_from(
    [*sorted({v for r in RUNS for v in r.metrics.values() if not math.isnan(v)}), 0.3, -1.0]
)
_TIMES = st.sampled_from(
    sorted({r.start_time for r in RUNS} | {r.end_time for r in RUNS if r.end_time})
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    node=filter_nodes(
        comparisons(keys=_KEYS, texts=_TEXTS, numbers=_NUMBERS, times=_TIMES), max_leaves=6
    )
)
def test_generated_filters_agree_with_the_python_reading(engine: Engine, node: FilterNode) -> None:
    text = str(node)
    assert search(engine, text, ["run_id"]) == expected_ids(text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    op=st.sampled_from(["=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN"]),
    text=like_patterns(st.text(SPELLABLE, max_size=6) | st.sampled_from(NOTES)),
)
def test_any_text_runs_on_the_database_and_matches_as_documented(
    engine: Engine, op: str, text: str
) -> None:
    node = Comparison("tags", "note", op, (text,) if op == "IN" else text)
    assert search(engine, str(node), ["run_id"]) == expected_ids(str(node))


# -- ordering ----------------------------------------------------------------------------


def _sort_value(run: FakeRun, item: str) -> str | float | int | None:
    identifier = item.split()[0]
    node = parse_filter(f"{identifier} IS NULL")
    assert isinstance(node, Comparison)
    value = _field(run, node)
    return None if isinstance(value, float) and math.isnan(value) else value


def expected_order(items: Sequence[str]) -> list[str]:
    def compare(a: FakeRun, b: FakeRun) -> int:
        for item in items:
            left, right = _sort_value(a, item), _sort_value(b, item)
            if left == right:
                continue
            if left is None or right is None:
                return 1 if left is None else -1  # missing values last, both directions
            result = -1 if left < right else 1  # type: ignore[operator]
            return -result if item.lower().endswith(" desc") else result
        return -1 if a.id < b.id else 1

    return [run.id for run in sorted(RUNS, key=functools.cmp_to_key(compare))]


ORDERINGS = [
    ["metrics.acc desc"],
    ["metrics.acc asc"],
    ["metrics.acc"],
    ["metrics.loss DESC"],
    ["metrics.`val-loss`"],
    ["params.lr desc", "metrics.loss asc"],
    ["params.model"],
    ["tags.team desc"],
    ["tags.team", "start_time desc"],
    ["start_time"],
    ["start_time desc"],
    ["end_time desc"],
    ["end_time asc"],
    ["user desc"],
    ["attributes.run_name DESC"],
    ["status", "user", "metrics.acc desc"],
    ["metrics.missing desc"],
]


@pytest.mark.parametrize("items", ORDERINGS, ids=" , ".join)
def test_orderings_put_missing_values_last(engine: Engine, items: list[str]) -> None:
    assert search(engine, None, items) == expected_order(items)


def test_nulls_last_in_both_directions_by_hand(engine: Engine) -> None:
    without_acc = [r.id for r in RUNS if math.isnan(r.metrics.get("acc", NAN))]
    for direction in ("asc", "desc"):
        found = search(engine, None, [f"metrics.acc {direction}"])
        assert found[-len(without_acc) :] == sorted(without_acc)
        assert not set(found[: -len(without_acc)]) & set(without_acc)


def test_default_order_is_newest_first_then_by_id(engine: Engine) -> None:
    expected = sorted(RUNS, key=lambda r: (r.start_time, r.id), reverse=True)
    assert search(engine, None) == [r.id for r in expected]


def test_filter_and_order_together(engine: Engine) -> None:
    text = "metrics.acc IS NOT NULL AND status != 'running'"
    wanted = set(expected_ids(text))
    assert search(engine, text, ["metrics.acc desc"]) == [
        i for i in expected_order(["metrics.acc desc"]) if i in wanted
    ]
