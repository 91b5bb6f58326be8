"""Tracing pipelines into graphs, and what steps do outside a pipeline."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from _steps import arithmetic, numbers, square, total

import loopml
from loopml.errors import InvalidInputError
from loopml.pipelines.graph import GatherInput, MapInput, OutputInput, ValueInput


def test_a_step_outside_a_pipeline_is_its_plain_function() -> None:
    assert numbers(3) == [0, 1, 2]
    assert square.map(x=[1, 2, 3]) == [1, 4, 9]
    assert square.__name__ == "square"
    assert square.options.name == "square"


def test_tracing_records_nodes_params_and_inputs() -> None:
    graph = arithmetic.trace({"n": 5})
    assert list(graph.nodes) == ["numbers", "total", "square", "sum_squares"]
    assert graph.nodes["numbers"].params == {"n": 5}
    assert graph.nodes["total"].inputs == {"values": OutputInput("numbers", "output")}
    assert graph.nodes["square"].mapped == ("x",)
    assert graph.nodes["sum_squares"].inputs == {"values": MapInput("square")}
    assert graph.nodes["sum_squares"].upstream == {"square"}
    described = graph.describe()
    assert [n["id"] for n in described["nodes"]] == list(graph.nodes)


def test_static_maps_repeated_calls_lists_and_values() -> None:
    import numpy as np

    @loopml.pipeline
    def shapes() -> None:
        parts = square.partial().map(x=[1, 2])
        again = square(3)
        total([again, parts[0]])
        total(parts)
        square(np.arange(3))  # type: ignore[arg-type]

    graph = shapes.trace()
    assert list(graph.nodes) == [
        "square[0]",
        "square[1]",
        "square_2",
        "total",
        "total_2",
        "square_3",
    ]
    assert graph.nodes["total"].inputs["values"] == GatherInput(
        (OutputInput("square_2", "output"), OutputInput("square[0]", "output"))
    )
    assert isinstance(graph.nodes["square_3"].inputs["x"], ValueInput)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda: square(1, 2), "called with bad arguments"),  # type: ignore[call-arg]
        (lambda: bool(square(1)), "has no value while the pipeline is being defined"),
        (lambda: list(square(1)), "cannot be iterated"),
        (lambda: square.map(x=[1], y=[2, 3]), "different lengths"),
        (lambda: square.map(), "needs at least one argument to map over"),
        (lambda: square.map(x=5), "maps over lists or step outputs"),
    ],
)
def test_mistakes_in_a_pipeline_are_named(body: Any, message: str) -> None:
    @loopml.pipeline
    def broken() -> None:
        body()

    with pytest.raises(InvalidInputError, match=message):
        broken.trace()


def test_a_pipeline_must_call_steps_and_when_needs_a_pipeline() -> None:
    @loopml.pipeline
    def empty() -> None:
        pass

    with pytest.raises(InvalidInputError, match="called no steps"):
        empty.trace()
    with pytest.raises(InvalidInputError, match="only works inside"), loopml.when(True):
        pass


def test_a_pipeline_called_inside_another_adds_its_steps() -> None:
    @loopml.pipeline
    def outer() -> None:
        arithmetic(n=2)
        numbers(9)

    assert list(outer.trace().nodes) == ["numbers", "total", "square", "sum_squares", "numbers_2"]


def test_step_options_are_checked() -> None:
    def one() -> int:
        return 1

    with pytest.raises(InvalidInputError, match="retries must be"):
        loopml.step(retries=-1)(one)
    with pytest.raises(InvalidInputError, match="outputs must be distinct"):
        loopml.step(outputs=("a", "a"))(one)
    with pytest.raises(InvalidInputError, match="step name '<lambda>' must start with a letter"):
        loopml.step(lambda: 1)
    with pytest.raises(InvalidInputError, match="unknown step option"):
        square.with_options(colour="red")
    with pytest.raises(InvalidInputError, match="coroutine or generator"):

        @loopml.step
        async def later() -> int:
            return 1


def test_steps_and_their_functions_pickle_by_reference() -> None:
    assert pickle.loads(pickle.dumps(square)) is square
    assert pickle.loads(pickle.dumps(square.fn)) is square.fn
    renamed = square.with_options(name="sq")
    assert pickle.loads(pickle.dumps(renamed.fn)) is square.fn
