#!/usr/bin/env bash
# Build the virtualenvs holding the real MLflow clients the MLflow-compatibility tests drive
# (tests/server/test_mlflow_tracking.py): .venv-clients/mlflow3 (current 3.x) and
# .venv-clients/mlflow2 (one 2.x). mlflow-skinny plus scikit-learn and pandas is all
# mlflow.sklearn needs; full mlflow would pull its UI and server. Nothing here pulls torch.
# A stamp per venv makes reruns instant; delete .venv-clients/ to rebuild.
#
#   scripts/mlflow-clients.sh            build both (idempotent)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 2>/dev/null || command -v python3)}
ROOT=.venv-clients

build() {  # name, pip requirements...
    local name=$1
    shift
    local venv=$ROOT/$name
    local stamp=$venv/.installed
    local want="$*"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    echo "mlflow-clients: building $venv ($want)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check "$@"
    "$venv/bin/python" -c 'import mlflow, sklearn; print("mlflow", mlflow.__version__)' >&2
    echo "$want" > "$stamp"
}

build mlflow3 'mlflow-skinny>=3.1,<4' 'scikit-learn' 'pandas'
build mlflow2 'mlflow-skinny==2.22.*' 'scikit-learn' 'pandas' 'numpy<2.3'
