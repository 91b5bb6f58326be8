"""``py:`` executor URLs: only a class with the Executor members is built (issue 10).

The loader used to call whatever the URL named, with the query as arguments, so
``executor="py:os:system?command=…"`` ran the command before failing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _steps import arithmetic

from loopml.config import Settings
from loopml.errors import InvalidInputError
from loopml.pipelines.executors import LocalExecutor, from_url


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("os:system?command=touch {}", "'system' in module 'os' is not a class"),
        ("subprocess:Popen?args=touch {}&shell=1", "is not an executor; it lacks url"),
    ],
)
def test_an_executor_url_runs_nothing_that_is_not_an_executor(
    tmp_path: Path, target: str, message: str
) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(InvalidInputError, match=message):
        from_url("py:" + target.format(pwned))
    with pytest.raises(InvalidInputError, match=message):
        arithmetic.run(
            {"n": 2},
            settings=Settings.load(home=tmp_path / "h"),
            executor="py:" + target.format(pwned),
        )
    assert not pwned.exists()


def test_an_executor_class_is_built_from_its_url() -> None:
    with from_url("py:loopml.pipelines.executors.local:LocalExecutor") as executor:
        assert isinstance(executor, LocalExecutor)
