#!/usr/bin/env bash
# Install the anchors the benchmarks compare against, each in its own virtualenv.
#
#   bash bench/setup.sh      (what `make bench-setup` runs)
#
# MLflow goes into bench/.venv-mlflow. Re-running is cheap: a stamp file records what was
# installed, and the install is redone only when this script's pins change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-mlflow"
stamp="$venv/.installed"
pin="mlflow==3.17.*"
fallback="mlflow>=3,<4"
want="$pin psutil"  # what the stamp must say for the install to count as done

python="$(command -v python3.11 || true)"
if [[ -z "$python" ]]; then
    echo "error: bench/setup.sh needs python3.11 on PATH" >&2
    exit 1
fi

if [[ -f "$stamp" && "$(head -n 1 "$stamp")" == "$want" ]]; then
    echo "bench-setup: $(sed -n 2p "$stamp") already in $venv"
    exit 0
fi

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip

# MLflow needs no torch or CUDA; keep them out even if a plugin would suggest them.
if ! "${pip[@]}" "$pin" psutil; then
    echo "bench-setup: '$pin' is not installable here; falling back to the newest 3.x" >&2
    "${pip[@]}" "$fallback" psutil
fi
if "$venv/bin/python" -m pip show torch >/dev/null 2>&1; then
    echo "error: torch ended up in $venv; MLflow does not need it" >&2
    exit 1
fi

version="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))')"
printf '%s\nmlflow %s\n' "$want" "$version" >"$stamp"
echo "bench-setup: mlflow $version installed in $venv"
