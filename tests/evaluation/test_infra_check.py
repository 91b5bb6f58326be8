"""The infra check: real packages loaded and predicted in a real fresh interpreter."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.evaluation import evaluate
from loopml.evaluation.infra import check_package
from loopml.packaging._pins import requirement_drift
from loopml.packaging.package import save_package
from loopml.registry.client import RegistryClient

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1], [0.5, 0.5], [0.1, 0.8]])
Y = np.array([0, 1, 0, 1, 1, 0])


def _project_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str, **others: str
) -> Any:
    """Import ``source`` as module ``name`` from a project folder (like a user's own code)."""
    src = tmp_path / "project"
    src.mkdir(exist_ok=True)
    for module, text in {name: source, **others}.items():
        (src / f"{module}.py").write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(src))
    return importlib.import_module(name)


def test_a_good_package_loads_and_predicts(tmp_path: Path) -> None:
    folder = tmp_path / "package"
    save_package(LogisticRegression().fit(X, Y), folder, input_example=X)
    result = check_package(folder)
    assert result.ok, result.reason
    assert result.reason.startswith(
        "loaded and predicted its input example (5 row(s)) in a fresh Python process in "
    )
    assert result.notes == ()
    assert result.seconds > 0


def test_a_class_whose_project_module_is_missing_fails_with_the_childs_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The class's own file is packaged, but it imports another project module that only
    # this process can see: the fresh process cannot load it.
    module = _project_module(
        tmp_path,
        monkeypatch,
        "infra_brittle_model",
        """
        import infra_brittle_helper

        class Doubler:
            def predict(self, data):
                return infra_brittle_helper.double(data)
        """,
        infra_brittle_helper="def double(data):\n    return [2 * x for x in data]\n",
    )
    folder = tmp_path / "package"
    save_package(module.Doubler(), folder, input_example=np.array([1.0, 2.0]))
    untrusted = check_package(folder)  # its code would come from the package itself
    assert not untrusted.ok
    assert 'trusted=["infra_brittle_model.Doubler"]' in untrusted.reason
    result = check_package(folder, trusted=["infra_brittle_model.Doubler"])
    assert not result.ok
    assert result.reason.startswith("the package did not load in a fresh Python process: ")
    assert "No module named 'infra_brittle_helper'" in result.reason


def test_a_model_that_fails_to_predict_there_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _project_module(
        tmp_path,
        monkeypatch,
        "infra_lookup_model",
        """
        from pathlib import Path

        class Lookup:
            def __init__(self, path):
                self.path = path

            def predict(self, data):
                offset = float(Path(self.path).read_text())
                return [x + offset for x in data]
        """,
    )
    table = tmp_path / "offset.txt"
    table.write_text("1.5")
    folder = tmp_path / "package"
    save_package(module.Lookup(str(table)), folder, input_example=np.array([1.0, 2.0]))
    table.unlink()  # the file it reads at predict time is not part of the package
    result = check_package(folder, trusted=["infra_lookup_model.Lookup"])
    assert not result.ok
    assert result.reason.startswith(
        "the package loaded in a fresh Python process but could not predict its input example: "
        "FileNotFoundError: "
    )


def test_a_missing_pinned_requirement_fails(tmp_path: Path) -> None:
    folder = tmp_path / "package"
    save_package(
        LogisticRegression().fit(X, Y),
        folder,
        input_example=X,
        requirements=["loopml-no-such-distribution==1.0"],
    )
    result = check_package(folder)
    assert not result.ok
    assert result.reason == (
        "the package's pinned requirements are not installed: requirement(s) not installed: "
        "loopml-no-such-distribution==1.0; install them with "
        "`pip install loopml-no-such-distribution==1.0`"
    )


def test_a_package_that_hangs_is_stopped_by_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _project_module(
        tmp_path,
        monkeypatch,
        "infra_slow_model",
        """
        import time

        class Slow:
            def save_model(self, folder):
                (folder / "marker").write_text("slow")

            @classmethod
            def load_model(cls, folder):
                time.sleep(600)
                return cls()

            def predict(self, data):
                return list(data)
        """,
    )
    folder = tmp_path / "package"
    save_package(module.Slow(), folder, input_example=np.array([1.0]))
    result = check_package(folder, trusted=["infra_slow_model.Slow"], timeout=1.0)
    assert not result.ok
    # the child was stopped at the timeout (its load sleeps 600 s): the reason says so
    assert result.reason.startswith("the package did not load and predict within 1 s")


def test_version_differences_are_notes_not_failures() -> None:
    missing, differ = requirement_drift(
        ["numpy==0.0.1", "loopml-no-such-distribution==2", "# a comment", "", "pandas"]
    )
    assert missing == ["loopml-no-such-distribution==2"]
    [note] = differ
    assert note.startswith("numpy ")
    assert note.endswith("is installed, the package pins numpy==0.0.1")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """One backend is enough here: the store is not what these tests are about."""
    return Settings.load(home=tmp_path / "home")


def test_evaluate_rejects_a_version_that_does_not_load_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_settings: Settings
) -> None:
    settings = sqlite_settings
    module = _project_module(
        tmp_path,
        monkeypatch,
        "infra_eval_model",
        """
        import infra_eval_helper

        class Threshold:
            def predict(self, data):
                return (data["x"] > infra_eval_helper.CUT).astype(int).to_numpy()
        """,
        infra_eval_helper="CUT = 0.5\n",
    )
    import pandas as pd

    frame = pd.DataFrame({"x": [0.1, 0.7, 0.4, 0.9], "label": [0, 1, 0, 1]})
    folder = tmp_path / "package"
    save_package(module.Threshold(), folder, input_example=frame[["x"]])
    registry = RegistryClient(settings)
    version = registry.register(str(folder), "threshold")

    result = evaluate(
        version.uri,
        frame,
        "label",
        gates=["accuracy >= 0.9", "infra"],
        settings=settings,
        trusted=["infra_eval_model.Threshold"],
    )

    assert result.metrics["accuracy"] == 1.0
    assert result.infra is not None
    assert not result.infra.ok
    assert result.passed is False
    [reason] = result.reasons
    assert reason.startswith("infra: the package did not load in a fresh Python process: ")
    assert "infra_eval_helper" in reason
    assert result.status == "rejected"


@pytest.mark.parametrize(
    ("name", "on_load", "quoted"),
    [
        # loading prints, then ends the process with exit code 0 before any result.
        ("infra_exiting_model", "print('junk from load'); sys.exit(0)", "junk from load"),
        # the result is printed, but something is printed after it: the last line is not it.
        ("infra_chatty_model", "atexit.register(print, 'x' * 5000)", "x" * 100),
    ],
)
def test_a_child_that_exits_0_without_its_result_line_fails_and_quotes_its_output(
    name: str, on_load: str, quoted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _project_module(
        tmp_path,
        monkeypatch,
        name,
        f"""
        import atexit
        import sys

        class Model:
            def save_model(self, folder):
                (folder / "marker").write_text("model")

            @classmethod
            def load_model(cls, folder):
                {on_load}
                return cls()

            def predict(self, data):
                return list(data)
        """,
    )
    folder = tmp_path / "package"
    save_package(module.Model(), folder, input_example=np.array([1.0, 2.0]))
    result = check_package(folder, trusted=[f"{name}.Model"])
    assert not result.ok, result.reason
    assert result.reason.startswith(
        "the fresh Python process exited with code 0 but did not report a result"
    ), result.reason
    assert quoted in result.reason
    assert len(result.reason) < 600  # what it printed is quoted, truncated
