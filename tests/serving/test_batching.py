"""Adaptive batching: rows merged into one model call and split back, request by request.

The model used here encodes its input in its output (``row -> 1000 * request + row``), so
a request that got any other request's rows back would see it. Waiting is made
deterministic by holding the model: a first call blocks on a threading event while the
test queues requests, so every later batch is formed from a known queue.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInputError
from loopml.serving.batching import Batcher, BatchReport, batcher_for
from loopml.serving.policy import Resources


class Model:
    """Doubles its input; records every call's row count; can be held and can fail."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def hold(self) -> None:
        self.release.clear()
        self.entered.clear()

    def predict(self, data: Any) -> Any:
        self.entered.set()
        self.release.wait(timeout=30)
        if isinstance(data, pd.DataFrame):
            if (data["x"] < 0).any():
                raise ValueError("negative x")
            self.calls.append(len(data))
            return pd.DataFrame({"y": data["x"] * 2})
        if isinstance(data, dict):
            x = np.asarray(data["x"])
            self.calls.append(len(x))
            return {"y": x * 2, "label": [f"r{v}" for v in x.tolist()]}
        if isinstance(data, list):
            self.calls.append(len(data))
            return [row["x"] * 2 for row in data]
        if (data < 0).any():
            raise ValueError(f"negative input in {data.shape[0]} rows")
        self.calls.append(data.shape[0])
        return data * 2


async def _until(condition: Callable[[], bool]) -> None:
    """Yield to the loop (and to threads) until ``condition`` holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


async def _held(
    batcher: Batcher, model: Model, submits: list[Awaitable[Any]]
) -> tuple[Any, list[Any]]:
    """Run a first 1-row request that blocks in the model, queue ``submits`` behind it,
    then let the model go: returns the first result and the others'."""
    model.hold()
    first = asyncio.ensure_future(batcher.submit(np.array([[0.0]])))
    await _until(model.entered.is_set)
    tasks = [asyncio.ensure_future(s) for s in submits]
    await _until(lambda: batcher.pending == len(tasks))
    model.release.set()
    return await first, list(await asyncio.gather(*tasks, return_exceptions=True))


def _batcher(model: Model, size: int, wait_ms: float, reports: list[BatchReport]) -> Batcher:
    return Batcher(
        model.predict, max_batch_size=size, max_batch_time_ms=wait_ms, on_batch=reports.append
    )


def _encoded(kind: int, values: np.ndarray[Any, Any]) -> Any:
    if kind == 0:
        return values.reshape(-1, 1)
    if kind == 1:
        return pd.DataFrame({"x": values})
    return {"x": values}


def test_many_concurrent_requests_each_get_exactly_their_own_rows() -> None:
    rng = random.Random(7)
    sizes = [rng.randint(0, 6) for _ in range(300)]
    values = [1000.0 * n + np.arange(size, dtype="float64") for n, size in enumerate(sizes)]
    inputs = [_encoded(n % 3, v) for n, v in enumerate(values)]
    model, reports = Model(), []

    async def main() -> list[Any]:
        batcher = _batcher(model, 16, 1.0, reports)
        try:
            return list(await asyncio.gather(*(batcher.submit(x) for x in inputs)))
        finally:
            await batcher.close()

    outputs = asyncio.run(main())
    for n, (v, y) in enumerate(zip(values, outputs, strict=True)):
        if n % 3 == 0:
            np.testing.assert_array_equal(y, v.reshape(-1, 1) * 2)
        elif n % 3 == 1:
            assert y["y"].tolist() == (v * 2).tolist()
            assert y.index.tolist() == list(range(len(v)))
        else:
            assert y["y"].tolist() == (v * 2).tolist()
            assert y["label"] == [f"r{x}" for x in v.tolist()]
    assert all(r.rows <= 16 for r in reports)
    assert any(r.requests > 1 for r in reports)  # all were queued before the first call
    assert sum(r.rows for r in reports) == sum(sizes)
    assert sum(r.requests for r in reports) == len(inputs)


def test_queued_requests_are_merged_up_to_max_batch_size_rows() -> None:
    model, reports = Model(), []

    async def main() -> list[Any]:
        batcher = _batcher(model, 4, 0, reports)
        rows = [np.array([[float(n)]]) for n in range(1, 11)]
        _, results = await _held(batcher, model, [batcher.submit(x) for x in rows])
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert [r.ravel().tolist() for r in results] == [[2.0 * n] for n in range(1, 11)]
    assert model.calls == [1, 4, 4, 2]
    assert [(r.rows, r.requests) for r in reports] == [(1, 1), (4, 4), (4, 4), (2, 2)]


def test_a_request_larger_than_the_limit_runs_alone() -> None:
    model, reports = Model(), []

    async def main() -> list[Any]:
        batcher = _batcher(model, 4, 0, reports)
        big = np.arange(10.0).reshape(10, 1)
        small = np.array([[100.0], [101.0]])
        _, results = await _held(batcher, model, [batcher.submit(small), batcher.submit(big)])
        await batcher.close()
        return results

    small_out, big_out = asyncio.run(main())
    assert big_out.ravel().tolist() == [2.0 * n for n in range(10)]
    assert small_out.ravel().tolist() == [200.0, 202.0]
    assert [(r.rows, r.requests) for r in reports[1:]] == [(2, 1), (10, 1)]


def test_a_lone_request_is_answered_though_its_batch_never_fills() -> None:
    model, reports = Model(), []

    async def main() -> Any:
        batcher = _batcher(model, 1000, 5, reports)
        out = await batcher.submit(np.array([[3.0]]))
        await batcher.close()
        return out

    assert asyncio.run(main()).tolist() == [[6.0]]
    assert [(r.rows, r.requests) for r in reports] == [(1, 1)]


def test_a_full_batch_does_not_wait_for_the_time_limit() -> None:
    model, reports = Model(), []

    async def main() -> list[Any]:
        batcher = _batcher(model, 3, 10_000, reports)  # the most: 10 s
        submits = [batcher.submit(np.array([[float(n)]])) for n in range(3)]
        results = await asyncio.wait_for(asyncio.gather(*submits), timeout=5)
        await batcher.close()
        return list(results)

    assert [r.item() for r in asyncio.run(main())] == [0.0, 2.0, 4.0]
    assert [(r.rows, r.requests) for r in reports] == [(3, 3)]


def test_requests_of_other_shapes_dtypes_or_kinds_are_not_merged() -> None:
    model, reports = Model(), []
    wide = np.ones((2, 3))
    narrow = [np.array([[1.0]]), np.array([[2.0]])]
    ints = np.array([[5]], dtype="int64")
    frames = [pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [3.0]})]
    columns = [{"x": np.array([1, 2])}, {"x": np.array([3])}]
    records = [[{"x": 1}], [{"x": 2}, {"x": 3}]]
    submits = [wide, narrow[0], ints, frames[0], columns[0], records[0]]
    submits += [narrow[1], frames[1], columns[1], records[1]]

    async def main() -> list[Any]:
        batcher = _batcher(model, 64, 0, reports)
        _, results = await _held(batcher, model, [batcher.submit(x) for x in submits])
        await batcher.close()
        return results

    results = asyncio.run(main())
    np.testing.assert_array_equal(results[0], wide * 2)
    assert results[1].tolist() == [[2.0]]
    assert results[6].tolist() == [[4.0]]
    assert results[2].dtype == np.int64
    assert results[2].tolist() == [[10]]
    pd.testing.assert_frame_equal(results[3], pd.DataFrame({"y": [2.0, 4.0]}))
    pd.testing.assert_frame_equal(results[7], pd.DataFrame({"y": [6.0]}))
    assert results[4]["y"].tolist() == [2, 4]
    assert results[4]["label"] == ["r1", "r2"]
    assert results[8]["y"].tolist() == [6]
    assert results[8]["label"] == ["r3"]
    assert results[5] == [2]
    assert results[9] == [4, 6]
    # first call held; then one call per layout: wide, narrow x2, ints, frames, dicts, lists
    assert sorted((r.rows, r.requests) for r in reports[1:]) == sorted(
        [(2, 1), (2, 2), (1, 1), (3, 2), (3, 2), (3, 2)]
    )


def test_one_failing_request_gets_its_error_and_the_others_their_answers() -> None:
    model, reports = Model(), []
    good = [np.array([[1.0]]), np.array([[2.0], [3.0]])]
    bad = np.array([[-1.0]])

    async def main() -> list[Any]:
        batcher = _batcher(model, 16, 0, reports)
        submits = [batcher.submit(good[0]), batcher.submit(bad), batcher.submit(good[1])]
        _, results = await _held(batcher, model, submits)
        await batcher.close()
        return results

    first, error, second = asyncio.run(main())
    assert first.tolist() == [[2.0]]
    assert second.tolist() == [[4.0], [6.0]]
    assert isinstance(error, ValueError)
    assert "negative input in 1 rows" in str(error)
    assert [(r.rows, r.requests, r.failed) for r in reports[1:]] == [
        (4, 3, True),
        (1, 1, False),
        (1, 1, True),
        (2, 1, False),
    ]


def test_an_output_without_a_row_per_input_row_is_answered_request_by_request() -> None:
    calls: list[int] = []

    def total(x: np.ndarray[Any, Any]) -> float:
        calls.append(len(x))
        return float(x.sum())  # one number per call, not per row

    async def main() -> list[Any]:
        gate, entered = threading.Event(), threading.Event()

        def held(x: np.ndarray[Any, Any]) -> float:
            entered.set()
            gate.wait(timeout=30)
            return total(x)

        batcher = Batcher(held, max_batch_size=8, max_batch_time_ms=0)
        first = asyncio.ensure_future(batcher.submit(np.array([0.0])))
        await _until(entered.is_set)
        tasks = [asyncio.ensure_future(batcher.submit(np.array([n, n]))) for n in (1.0, 2.0)]
        await _until(lambda: batcher.pending == 2)
        gate.set()
        await first
        results = await asyncio.gather(*tasks)
        await batcher.close()
        return list(results)

    assert asyncio.run(main()) == [2.0, 4.0]
    assert calls == [1, 4, 2, 2]


def test_empty_inputs_run_alone_and_get_what_the_model_gives_them() -> None:
    model, reports = Model(), []
    empty = np.zeros((0, 1))

    async def main() -> list[Any]:
        batcher = _batcher(model, 16, 0, reports)
        submits = [batcher.submit(empty), batcher.submit(np.array([[1.0]])), batcher.submit([])]
        _, results = await _held(batcher, model, submits)
        await batcher.close()
        return results

    empty_out, one, empty_list = asyncio.run(main())
    assert empty_out.shape == (0, 1)
    assert one.tolist() == [[2.0]]
    assert empty_list == []
    assert sorted((r.rows, r.requests) for r in reports[1:]) == [(0, 1), (0, 1), (1, 1)]


def test_close_answers_queued_requests_at_once_and_later_ones_run_alone() -> None:
    model, reports = Model(), []

    async def main() -> tuple[list[Any], Any]:
        batcher = _batcher(model, 100, 10_000, reports)  # would wait 10 s for company
        tasks = [asyncio.ensure_future(batcher.submit(np.array([[float(n)]]))) for n in range(3)]
        await _until(lambda: batcher.pending == 3)
        await asyncio.wait_for(batcher.close(), timeout=5)
        assert batcher.closed
        results = await asyncio.gather(*tasks)
        late = await batcher.submit(np.array([[7.0]]))
        await batcher.close()  # idempotent
        return list(results), late

    results, late = asyncio.run(main())
    assert [r.item() for r in results] == [0.0, 2.0, 4.0]
    assert late.item() == 14.0
    assert [(r.rows, r.requests) for r in reports] == [(3, 3), (1, 1)]


def test_a_caller_that_gives_up_is_skipped_and_the_others_are_answered() -> None:
    model, reports = Model(), []

    async def main() -> list[Any]:
        batcher = _batcher(model, 16, 0, reports)
        model.hold()
        first = asyncio.ensure_future(batcher.submit(np.array([[0.0]])))
        await _until(model.entered.is_set)
        gone = asyncio.ensure_future(batcher.submit(np.array([[5.0]])))
        kept = asyncio.ensure_future(batcher.submit(np.array([[6.0]])))
        await _until(lambda: batcher.pending == 2)
        gone.cancel()
        model.release.set()
        await first
        result = await kept
        await batcher.close()
        return [result, gone.cancelled()]

    result, cancelled = asyncio.run(main())
    assert result.tolist() == [[12.0]]
    assert cancelled
    assert [(r.rows, r.requests) for r in reports] == [(1, 1), (1, 1)]


def test_a_failing_batch_report_hook_never_fails_a_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(report: BatchReport) -> None:
        raise RuntimeError("metrics are down")

    async def main() -> Any:
        batcher = Batcher(lambda x: x + 1, max_batch_size=4, max_batch_time_ms=0, on_batch=broken)
        out = await batcher.submit(np.array([1]))
        await batcher.close()
        return out

    assert asyncio.run(main()).tolist() == [2]
    assert "on_batch raised" in caplog.text


@pytest.mark.parametrize(
    ("size", "wait"),
    [(0, 1.0), (5000, 1.0), (True, 1.0), (4, -1), (4, 10_001), (4, float("nan")), (4, "2")],
)
def test_limits_out_of_range_are_refused(size: Any, wait: Any) -> None:
    with pytest.raises(InvalidInputError, match="max_batch"):
        Batcher(lambda x: x, max_batch_size=size, max_batch_time_ms=wait)


def test_batching_is_off_unless_the_deployment_asks_for_it() -> None:
    assert batcher_for(lambda x: x, Resources()) is None
    batcher = batcher_for(lambda x: x, Resources(max_batch_size=32, max_batch_time_ms=4))
    assert batcher is not None
    assert (batcher.max_batch_size, batcher.max_batch_time_ms) == (32, 4)


def test_each_request_learns_how_long_it_queued_and_its_model_call_took() -> None:
    model = Model()

    async def main() -> list[Any]:
        batcher = Batcher(model.predict, max_batch_size=8, max_batch_time_ms=0)
        model.hold()
        first = asyncio.ensure_future(batcher.submit_timed(np.array([[1.0]])))
        await _until(model.entered.is_set)
        rest = [asyncio.ensure_future(batcher.submit_timed(np.array([[2.0]]))) for _ in range(3)]
        await _until(lambda: batcher.pending == 3)
        model.release.set()
        results = [await first, *await asyncio.gather(*rest)]
        await batcher.close()
        late = await batcher.submit_timed(np.array([[3.0]]))
        return [*results, late]

    results = asyncio.run(main())
    assert [out.item() for out, _ in results] == [2.0, 4.0, 4.0, 4.0, 6.0]
    assert [timing.batch_rows for _, timing in results] == [1, 3, 3, 3, 1]
    assert all(timing.queued >= 0 and timing.predict >= 0 for _, timing in results)
    # the three behind the held call share one model call, so one predict time
    assert len({timing.predict for _, timing in results[1:4]}) == 1
