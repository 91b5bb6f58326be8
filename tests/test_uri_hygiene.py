"""Every loopml URI in src/ is built and taken apart by loopml.uris, not by hand.

The check reads the code (not docstrings or comments: ``ast``) for the three ways a URI
gets hand-made: an f-string that writes ``models:/{…}`` (or ``runs:/``, ``datasets:/``),
a bare scheme prefix as a value (``startswith("runs:/")``, ``"datasets:/" + name``,
``removeprefix("models:/")``, a ``_PREFIX = "datasets:/"`` constant), and the same
prefix written without its slash (``startswith("runs:")``).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

import loopml
from loopml.uris import SCHEMES

SRC = Path(loopml.__file__).parent
ALLOWED = {SRC / "uris.py"}  # the one module that writes and reads URIs
PREFIXES = tuple(f"{scheme}:/" for scheme in SCHEMES)
BARE = {*PREFIXES, *(f"{scheme}:" for scheme in SCHEMES)}


def hand_made_uris(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each hand-made URI in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.Constant)
                    and isinstance(before.value, str)
                    and before.value.endswith(PREFIXES)
                    and isinstance(after, ast.FormattedValue)
                ):
                    found.append((node.lineno, f"f-string {before.value!r}{{…}}"))
        elif isinstance(node, ast.Constant) and node.value in BARE:
            found.append((node.lineno, f"bare prefix {node.value!r}"))
    return found


def test_no_module_builds_or_splits_a_uri_by_hand() -> None:
    offences = [
        f"{path.relative_to(SRC.parent)}:{line}: {what}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in ALLOWED
        for line, what in hand_made_uris(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], (
        "use loopml.uris (model_uri, run_uri, dataset_uri, node_uri, "
        "is_uri, parse_uri, parse_short, strip_scheme):\n" + "\n".join(offences)
    )


@pytest.mark.parametrize(
    "code",
    [
        'uri = f"models:/{name}/{version}"',
        'message = f"no artifacts in runs:/{run_id}/{path}"',
        'if text.startswith(("models:/", "runs:/")): pass',
        'run_id = text.removeprefix("runs:/")',
        'uri = "datasets:/" + name',
        '_PREFIX = "datasets:/"',
        'if run.startswith("runs:"): pass',
    ],
)
def test_the_check_catches_each_way_of_hand_making_a_uri(code: str) -> None:
    assert hand_made_uris(code)


@pytest.mark.parametrize(
    "code",
    [
        '"""Load ``models:/churn/3`` or f"runs:/{run.id}/model"."""',
        "# runs:/<id>/<path>",
        'raise ValueError("give runs:/<run_id>/<path> or models:/<name>/<version>")',
        "uri = model_uri(name, version)",
    ],
)
def test_docstrings_comments_and_forms_in_messages_pass(code: str) -> None:
    assert hand_made_uris(code) == []
