"""Hypothesis strategies shared by the test suite.

Run-search filters: :func:`filter_nodes` draws syntax trees that the filter language can
spell (a metric is compared with numbers, a param with text, and so on). By default it
draws any keys and text; the SQL tests pass the vocabulary of their fixture data instead,
so that generated filters actually select something.
"""

from __future__ import annotations

from typing import Literal

from hypothesis import strategies as st

from loopml.tracking.search import And, Comparison, FilterNode, Or

__all__ = ["SPELLABLE", "comparisons", "filter_nodes", "like_patterns"]

TEXT_ATTRIBUTES = ("run_id", "run_name", "status", "experiment_id", "parent_run_id", "user")
TIME_ATTRIBUTES = ("start_time", "end_time")
NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
NULL_OPS = ("IS NULL", "IS NOT NULL")
Entity = Literal["metrics", "params", "tags", "attributes"]
# Every character a filter can quote: all but NUL and lone surrogates, which no database
# stores.
SPELLABLE = st.characters(codec="utf-8", exclude_characters="\x00")


def like_patterns(texts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """LIKE patterns: the given text with wildcards mixed in, never ending in an escape."""
    pieces = st.one_of(texts, st.sampled_from(["%", "_", "\\%", "\\_", "\\\\"]))
    return st.lists(pieces, max_size=4).map("".join).filter(_no_trailing_escape)


def _no_trailing_escape(pattern: str) -> bool:
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 0


def _text_comparison(
    entity: Entity, key: str, texts: st.SearchStrategy[str], patterns: st.SearchStrategy[str]
) -> st.SearchStrategy[Comparison]:
    def build(op: str) -> st.SearchStrategy[Comparison]:
        if op in NULL_OPS:
            return st.just(Comparison(entity, key, op))
        values: st.SearchStrategy[str | tuple[str, ...]]
        if op in ("IN", "NOT IN"):
            values = st.lists(texts, min_size=1, max_size=4).map(tuple)
        else:
            values = patterns if "LIKE" in op else texts
        return values.map(lambda v: Comparison(entity, key, op, v))

    return st.sampled_from((*TEXT_OPS, "IN", "NOT IN", *NULL_OPS)).flatmap(build)


def _number_comparison(
    entity: Entity,
    key: str,
    numbers: st.SearchStrategy[float],
    special: st.SearchStrategy[float],
) -> st.SearchStrategy[Comparison]:
    # ``special`` values (NaN for metrics) may only be tested with =, != and lists.
    def build(op: str) -> st.SearchStrategy[Comparison]:
        if op in NULL_OPS:
            return st.just(Comparison(entity, key, op))
        values: st.SearchStrategy[float | tuple[float, ...]]
        if op in ("IN", "NOT IN"):
            values = st.lists(st.one_of(numbers, special), min_size=1, max_size=4).map(tuple)
        elif op in ("=", "!="):
            values = st.one_of(numbers, special)
        else:
            values = numbers
        return values.map(lambda v: Comparison(entity, key, op, v))

    return st.sampled_from((*NUMBER_OPS, "IN", "NOT IN", *NULL_OPS)).flatmap(build)


def comparisons(
    *,
    keys: st.SearchStrategy[str] | None = None,
    texts: st.SearchStrategy[str] | None = None,
    numbers: st.SearchStrategy[float] | None = None,
    times: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[Comparison]:
    """Comparisons on every entity, each with operators and values that suit it."""
    keys = keys if keys is not None else st.text(SPELLABLE, min_size=1, max_size=10)
    texts = texts if texts is not None else st.text(SPELLABLE, max_size=10)
    numbers = numbers if numbers is not None else st.floats(allow_nan=False)
    times = times if times is not None else st.integers(-(2**62), 2**62)
    patterns = like_patterns(texts)
    nan = st.just(float("nan"))

    return st.one_of(
        keys.flatmap(lambda key: _number_comparison("metrics", key, numbers, nan)),
        keys.flatmap(lambda key: _text_comparison("params", key, texts, patterns)),
        keys.flatmap(lambda key: _text_comparison("tags", key, texts, patterns)),
        st.sampled_from(TEXT_ATTRIBUTES).flatmap(
            lambda name: _text_comparison("attributes", name, texts, patterns)
        ),
        st.sampled_from(TIME_ATTRIBUTES).flatmap(
            lambda name: _number_comparison("attributes", name, times, st.nothing())
        ),
    )


def filter_nodes(
    leaves: st.SearchStrategy[Comparison] | None = None, *, max_leaves: int = 12
) -> st.SearchStrategy[FilterNode]:
    """Filter syntax trees: comparisons combined with And/Or, two to four items each."""
    base = leaves if leaves is not None else comparisons()

    def combine(children: st.SearchStrategy[FilterNode]) -> st.SearchStrategy[FilterNode]:
        groups = st.lists(children, min_size=2, max_size=4).map(tuple)
        return st.one_of(groups.map(And), groups.map(Or))

    return st.recursive(base, combine, max_leaves=max_leaves)
