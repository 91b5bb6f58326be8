#!/usr/bin/env bash
# Install the anchors the benchmarks compare against, each in its own virtualenv.
#
#   bash bench/setup.sh      (what `make bench-setup` runs)
#
#   bench/.venv-mlflow   MLflow  (tracking.py, registry.py; its scikit-learn and skops come with it)
#   bench/.venv-dvc      DVC     (data_versioning.py)
#   bench/.venv-feast    Feast   (features.py; with the duckdb extra, for its DuckDB offline store)
#   bench/.venv-zenml    ZenML   (pipelines.py; with the local extra: its SQL store, no server)
#   bench/.venv-kedro    Kedro   (pipelines.py)
#   bench/.venv-bentoml  BentoML (serving.py; with scikit-learn for the forest it serves)
#   bench/.venv-evidently Evidently (monitoring.py; its pins need pandas < 3)
#
# serving.py also needs the load generator wrk (Debian's package `wrk`), installed with
# apt-get when it is missing.
#
# Re-running is cheap: a stamp file in each virtualenv records what was installed, and an
# install is redone only when this script's pins for it change. None of the anchors needs
# torch or CUDA; an install that pulls torch in is an error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

python="$(command -v python3.11 || true)"
if [[ -z "$python" ]]; then
    echo "error: bench/setup.sh needs python3.11 on PATH" >&2
    exit 1
fi

# install VENV_NAME PACKAGE PIN FALLBACK [EXTRA...]
#   Installs PIN (or FALLBACK if PIN is not installable) plus EXTRA into bench/VENV_NAME,
#   unless the stamp there already records exactly "PIN EXTRA...".
install() {
    local name="$1" package="$2" pin="$3" fallback="$4"
    shift 4
    local venv="$here/$name"
    local stamp="$venv/.installed"
    local want="$pin${*:+ $*}" # what the stamp must say for the install to count as done

    if [[ -f "$stamp" && "$(head -n 1 "$stamp")" == "$want" ]]; then
        echo "bench-setup: $(sed -n 2p "$stamp") already in $venv"
        return 0
    fi

    [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
    local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
    "${pip[@]}" --upgrade pip
    if ! "${pip[@]}" "$pin" "$@"; then
        echo "bench-setup: '$pin' is not installable here; falling back to '$fallback'" >&2
        "${pip[@]}" "$fallback" "$@"
    fi
    if "$venv/bin/python" -m pip show torch >/dev/null 2>&1; then
        echo "error: torch ended up in $venv; $package does not need it" >&2
        exit 1
    fi

    local version
    version="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))")"
    printf '%s\n%s %s\n' "$want" "$package" "$version" >"$stamp"
    echo "bench-setup: $package $version installed in $venv"
}

install .venv-mlflow mlflow "mlflow==3.17.*" "mlflow>=3,<4" psutil
install .venv-dvc dvc "dvc==3.*" "dvc>=3,<4"
install .venv-feast feast "feast[duckdb]==0.67.*" "feast[duckdb]<1" psutil
install .venv-zenml zenml "zenml[local]==0.98.*" "zenml[local]<1"
install .venv-kedro kedro "kedro==1.7.*" "kedro>=1,<2"
install .venv-bentoml bentoml "bentoml==1.4.*" "bentoml>=1.4,<2" scikit-learn psutil
install .venv-evidently evidently "evidently==0.7.23" "evidently>=0.7,<0.8" "pandas<3" psutil

# wrk: serving.py's load generator (keep-alive HTTP, POST bodies from a Lua script).
if ! command -v wrk >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        echo "bench-setup: installing wrk with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
    fi
    if ! command -v wrk >/dev/null 2>&1; then
        echo "error: bench/serving.py needs wrk (https://github.com/wg/wrk); install the" \
            "'wrk' package (apt-get install wrk, brew install wrk) and run this again" >&2
        exit 1
    fi
fi
echo "bench-setup: $(wrk --version 2>&1 | head -n 1)"
