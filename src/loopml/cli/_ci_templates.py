"""The CI workflow ``loopml init --ci`` writes: one list of steps, two YAML flavours.

:data:`CI_STEPS` holds the steps once, as plain shell commands (``loopml``, ``python``,
``pip``, ``ruff``); :func:`render` writes them as a GitHub Actions workflow or a GitLab CI
file. Values come from :data:`CI_VARIABLES`, set at the top of the file and read by the
commands as environment variables, so a test can run exactly the commands the YAML holds,
in order, in a scratch project (``tests/cli/test_init_ci.py``). Steps pass what they made to
the next through files in ``.loopml-ci/`` (GitHub runs each step in its own shell).

Example:
    >>> [step.name for step in CI_STEPS if step.main_only]
    ['Copy the version to prod', 'Promote it in prod']
    >>> render("github").startswith("# loopml CI/CD")
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CI_FILES",
    "CI_STEPS",
    "CI_VARIABLES",
    "CiStep",
    "CiVariable",
    "Flavour",
    "render",
]

Flavour = Literal["github", "gitlab"]

CI_FILES: dict[str, str] = {"github": ".github/workflows/loopml.yml", "gitlab": ".gitlab-ci.yml"}
STATE_DIR = ".loopml-ci"
MAIN_BRANCH = "main"


@dataclass(frozen=True, slots=True)
class CiVariable:
    """A value set at the top of the workflow: ``name``, its example ``value``, what it is."""

    name: str
    value: str
    about: str


@dataclass(frozen=True, slots=True)
class CiStep:
    """One step of the job.

    Attributes:
        name: what it does, shown in the CI's log.
        run: its shell command (one line), or ``None`` for a GitHub action (``uses``).
        uses: the GitHub action of a setup step (GitLab's image and checkout cover it).
        with_: the action's inputs.
        ci_only: prepares the CI machine (checkout, Python, install); the scratch-project
            test does not run it.
        main_only: runs on a push to the main branch only.
    """

    name: str
    run: str | None = None
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)
    ci_only: bool = False
    main_only: bool = False


CI_VARIABLES: tuple[CiVariable, ...] = (
    CiVariable("PIPELINE", "flows.py:train", "the training pipeline: file.py:name or module:name"),
    CiVariable("MODEL_STEP", "fit", "the step of PIPELINE that returns its model's runs:/ URI"),
    CiVariable("SAMPLE_PARAM", "sample=200", "the --param that makes the CI run short"),
    CiVariable("DATASET", "churn_train", "the dataset it trains on; its latest version is checked"),
    CiVariable("SCHEMA", "schema.toml", "the dataset's schema (loopml data validate --infer)"),
    CiVariable("MODEL", "churn", "the registered model"),
    CiVariable("HOLDOUT", "datasets:/churn_holdout@latest", "the data the gates are judged on"),
    CiVariable("TARGET_COLUMN", "churned", "the label column of HOLDOUT"),
)

CI_STEPS: tuple[CiStep, ...] = (
    CiStep("Check out", uses="actions/checkout@v4", ci_only=True),
    CiStep(
        "Set up Python 3.11",
        uses="actions/setup-python@v5",
        with_={"python-version": "3.11"},
        ci_only=True,
    ),
    CiStep(
        "Install the project",
        "if [ -f requirements.txt ]; then pip install -r requirements.txt; "
        "else pip install -e .; fi",
        ci_only=True,
    ),
    CiStep(
        "Lint",
        "if command -v ruff >/dev/null 2>&1; then ruff check .; "
        "else echo 'ruff is not installed, lint skipped'; fi",
    ),
    CiStep("Unit tests", "python -m pytest -q"),
    CiStep(
        "Validate the latest data",
        'loopml --env staging data validate "datasets:/$DATASET@latest" --schema "$SCHEMA"',
    ),
    CiStep(
        "Run the pipeline on a sample",
        f'mkdir -p {STATE_DIR} && loopml --env staging pipeline run "$PIPELINE" '
        f'--param "$SAMPLE_PARAM" --load "$MODEL_STEP" > {STATE_DIR}/model-uri',
    ),
    CiStep(
        "Register the model in staging",
        f'loopml --env staging models register "$(cat {STATE_DIR}/model-uri)" "$MODEL" '
        f"--quiet > {STATE_DIR}/version",
    ),
    CiStep(
        "Evaluate it with the policy's gates",
        f'loopml --env staging models evaluate "models:/$MODEL/$(cat {STATE_DIR}/version)" '
        '--data "$HOLDOUT" --target "$TARGET_COLUMN"',
    ),
    CiStep(
        "Copy the version to prod",
        f'loopml models copy "$MODEL" "$(cat {STATE_DIR}/version)" --from staging --to prod '
        f'--reason "CI, passed its gates in staging" --quiet > {STATE_DIR}/prod-version',
        main_only=True,
    ),
    CiStep(
        "Promote it in prod",
        f'loopml --env prod models promote "$MODEL" "$(cat {STATE_DIR}/prod-version)" '
        '--reason "CI, copied from staging"',
        main_only=True,
    ),
)

_HEADER = """\
# loopml CI/CD: the pipeline's code is built, tested and delivered as a pipeline.
# Written by `loopml init --ci {flavour}`; see docs/ci.md. Every step is a plain command:
# lint and unit tests, the latest data validated, a short pipeline run on a sample, its
# model registered and evaluated in staging (the policy's gates: exit code 1 stops the
# job) and, on the {main} branch only, copied to prod and promoted there.
# The environments staging and prod are [env.staging] and [env.prod] in loopml.toml.
"""

# A plain YAML scalar must not start with an indicator, hold ": " or " #", end with ":",
# or read as another type (YAML 1.1: yes/no/on/off, numbers).
_PLAIN_START = re.compile(r"^[A-Za-z0-9_./$(]")
_NOT_TEXT = re.compile(r"[-+.0-9eE_:]+|true|false|yes|no|on|off|y|n|null|~", re.IGNORECASE)


def render(flavour: Flavour) -> str:
    """The workflow file for ``flavour`` (github or gitlab), as text."""
    return _github() if flavour == "github" else _gitlab()


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads the same, else single-quoted."""
    plain = (
        _PLAIN_START.match(text) is not None
        and _NOT_TEXT.fullmatch(text) is None
        and ": " not in text
        and " #" not in text
        and not text.endswith((":", " "))
        and "\n" not in text
    )
    return text if plain else "'" + text.replace("'", "''") + "'"


def _variables(indent: str) -> list[str]:
    lines = []
    for variable in CI_VARIABLES:
        lines.append(f"{indent}# {variable.about}")
        lines.append(f"{indent}{variable.name}: {_scalar(variable.value)}")
    return lines


def _github() -> str:
    lines = [_HEADER.format(flavour="github", main=MAIN_BRANCH), "name: loopml", ""]
    lines += ["on:", "  push:", "  pull_request:", ""]
    lines += ["# staging and prod are shared: one run at a time touches them."]
    lines += ["concurrency:", "  group: loopml-environments", "  cancel-in-progress: false", ""]
    lines += ["env:", *_variables("  "), ""]
    lines += ["jobs:", "  loopml:", "    runs-on: ubuntu-latest", "    steps:"]
    main = f"github.event_name == 'push' && github.ref == 'refs/heads/{MAIN_BRANCH}'"
    for step in CI_STEPS:
        lines.append(f"      - name: {_scalar(step.name)}")
        if step.main_only:
            lines.append(f"        if: {main}")
        if step.uses is not None:
            lines.append(f"        uses: {step.uses}")
            if step.with_:
                lines.append("        with:")
                lines += [f'          {key}: "{value}"' for key, value in step.with_.items()]
        if step.run is not None:
            lines.append(f"        run: {_scalar(step.run)}")
    return "\n".join(lines) + "\n"


def _gitlab() -> str:
    lines = [_HEADER.format(flavour="gitlab", main=MAIN_BRANCH)]
    lines += [
        "# Branch pipelines, and merge request pipelines (not both for one push).",
        "workflow:",
        "  rules:",
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
        "    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS",
        "      when: never",
        "    - if: $CI_COMMIT_BRANCH",
        "",
        "variables:",
        *_variables("  "),
        "",
        "loopml:",
        "  image: python:3.11",
        "  # staging and prod are shared: one job at a time touches them.",
        "  resource_group: loopml-environments",
        "  script:",
    ]
    on_main = f'[ "$CI_PIPELINE_SOURCE" = "push" ] && [ "$CI_COMMIT_BRANCH" = "{MAIN_BRANCH}" ]'
    for step in CI_STEPS:
        if step.run is None:  # checkout and Python: GitLab's runner and image do them
            continue
        lines.append(
            f"    # {step.name}" + (f" ({MAIN_BRANCH} branch only)" if step.main_only else "")
        )
        command = f"if {on_main}; then {step.run}; fi" if step.main_only else step.run
        lines.append(f"    - {_scalar(command)}")
    return "\n".join(lines) + "\n"
