"""Cache keys change with everything a step's result depends on, and with nothing else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.artifacts import ArtifactStore
from loopml.pipelines._code import code_identity, source_digest
from loopml.pipelines._task import store_value
from loopml.pipelines.cache import cache_key, explain_difference, key_parts

HELPERS = """
SCALE = {scale}


def helper(v):
    return v * SCALE + {offset}


def unrelated(v):
    return v - {unrelated}
"""

STEPS = """
import loopml
import numpy
from helpers_mod import helper


@loopml.step(retries={retries})
def work(data, alpha=0.1):
    # {comment}
    return helper(numpy.asarray(data).sum() * alpha {op} {constant})
"""

BASE: dict[str, Any] = {
    "scale": 2,
    "offset": 1,
    "unrelated": 3,
    "retries": 0,
    "comment": "a comment",
    "op": "+",
    "constant": 1,
}

_counter = iter(range(10**9))


def _load(folder: Path, values: dict[str, Any]) -> Any:
    """Write the two project modules into a fresh folder and import them anew."""
    root = folder / f"v{next(_counter)}"
    root.mkdir()
    (root / "helpers_mod.py").write_text(HELPERS.format(**values))
    (root / "steps_mod.py").write_text(STEPS.format(**values))
    (root / "unrelated_file.py").write_text(f"X = {values.get('file', 0)}\n")
    for name in ("helpers_mod", "steps_mod"):
        sys.modules.pop(name, None)
    sys.path.insert(0, str(root))
    try:
        spec = importlib.util.spec_from_file_location("steps_mod", root / "steps_mod.py")
        assert spec is not None
        assert spec.loader is not None
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules["steps_mod"] = module
        spec.loader.exec_module(module)
        return module.work
    finally:
        sys.path.remove(str(root))
        for name in ("helpers_mod", "steps_mod"):
            sys.modules.pop(name, None)


def _key(step: Any, params: dict[str, Any] | None = None, data: str = "d" * 64) -> str:
    return cache_key(key_parts(step, params or {"alpha": 0.1}, {"data": data}))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


CHANGES = {
    "scale": 3,  # a module constant the helper reads
    "offset": 2,  # the helper's code
    "op": "-",  # the step's code
    "constant": 2,  # a literal in the step's code
}
SAME = {
    "unrelated": 4,  # a function in the helper module the step never calls
    "retries": 3,  # decorator arguments: how it runs, not what it computes
    "comment": "another comment",  # comments are not code
    "file": 1,  # another file of the project
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_change_the_result_depends_on_changes_the_key(project: Path, field: str) -> None:
    before = _load(project, BASE)
    after = _load(project, {**BASE, field: CHANGES[field]})
    assert _key(before) != _key(after)


@pytest.mark.parametrize("field", sorted(SAME))
def test_a_change_it_does_not_depend_on_keeps_the_key(project: Path, field: str) -> None:
    before = _load(project, BASE)
    after = _load(project, {**BASE, field: SAME[field]})
    assert _key(before) == _key(after)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(-1000, 1000), scale=st.integers(-1000, 1000))
def test_helper_changes_always_change_the_key(project: Path, offset: int, scale: int) -> None:
    base = _load(project, BASE)
    variant = _load(project, {**BASE, "offset": offset, "scale": scale})
    same = (offset, scale) == (BASE["offset"], BASE["scale"])
    assert (_key(base) == _key(variant)) is same


@settings(max_examples=50)
@given(
    data=st.binary(min_size=1, max_size=512),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_changing_any_input_byte_changes_the_key(data: bytes, position: int, flip: int) -> None:
    from _steps import column_sum

    blobs = ArtifactStore.from_url("memory://")
    index = position % len(data)
    changed = bytearray(data)
    changed[index] ^= flip
    scratch = Path.cwd()
    digests = [
        store_value(np.frombuffer(b, dtype=np.uint8), blobs, scratch, step="s", output="o").digest
        for b in (data, bytes(changed))
    ]
    assert digests[0] != digests[1]
    assert _key(column_sum, data=digests[0]) != _key(column_sum, data=digests[1])


@settings(max_examples=50)
@given(
    a=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
    b=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
)
def test_params_change_the_key_exactly_when_they_differ(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    from _steps import column_sum

    assert (_key(column_sum, a) == _key(column_sum, b)) is (a == b)


def test_the_key_covers_package_versions_and_python(project: Path) -> None:
    step = _load(project, BASE)
    parts = key_parts(step, {}, {})
    assert parts["packages"]["numpy"] == np.__version__
    assert parts["packages"]["python"].count(".") == 1
    assert "loopml" in parts["packages"]
    assert parts["helpers"] == {"helpers_mod.helper": parts["helpers"]["helpers_mod.helper"]}
    assert parts["constants"] == {"helpers_mod.SCALE": "2"}


def test_explain_names_each_difference(project: Path) -> None:
    before = key_parts(_load(project, BASE), {"alpha": 0.1}, {"data": "a"})
    after = key_parts(_load(project, {**BASE, "offset": 5}), {"alpha": 0.2}, {"data": "b"})
    assert explain_difference(after, before) == [
        "helper helpers_mod.helper: code changed",
        "param alpha changed: 0.1 -> 0.2",
        "input data: content changed",
    ]


def test_code_identity_follows_closures_and_local_imports() -> None:
    def outer() -> Any:
        import numpy as local_numpy

        def inner() -> Any:
            return local_numpy.zeros(1)

        return inner

    identity = code_identity(outer)
    assert identity.packages["numpy"] == np.__version__
    assert source_digest(outer) == source_digest(outer)
