#!/usr/bin/env bash
# Run a command where the only network is loopback: `make test` runs pytest through this.
#
# Every test server binds 127.0.0.1, but Ray's processes listen on every interface. As
# root (the CI machine), the command runs in a fresh network namespace holding only `lo`
# (`unshare --net`), so nothing a test starts is reachable from outside and nothing
# reaches out. Elsewhere (a developer's laptop, a container without CAP_SYS_ADMIN) it
# runs as is, and the Ray tests skip, saying why (tests/pipelines/test_executor_contract.py).
# Ray's scratch folders (/tmp/ray, ~/.ray) are removed afterwards when the run made them.
#
#   scripts/loopback-only.sh .venv/bin/pytest -q
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARG]..." >&2; exit 2; }

PYTHON="$(dirname "$1")/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

# Made by this run, removed after it; someone else's Ray session is left alone.
CREATED=()
for dir in /tmp/ray "$HOME/.ray"; do
    [ -e "$dir" ] || CREATED+=("$dir")
done
cleanup() {
    local dir
    for dir in "${CREATED[@]+"${CREATED[@]}"}"; do
        rm -rf "$dir"
    done
}
trap cleanup EXIT

# Bring `lo` up: with iproute2 when installed, else with the ioctl it would use.
LO_UP="
import fcntl, socket, struct
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    request = struct.pack('16sh', b'lo', 0)
    flags = struct.unpack('16sh', fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
    fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack('16sh', b'lo', flags | IFF_UP))
"
INSIDE='
if command -v ip >/dev/null 2>&1; then ip link set lo up; else "$LOOPML_PYTHON" -c "$LOOPML_LO_UP"; fi
exec "$@"
'

if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 && unshare --net true 2>/dev/null; then
    set +e
    LOOPML_PYTHON="$PYTHON" LOOPML_LO_UP="$LO_UP" unshare --net -- bash -euo pipefail -c "$INSIDE" bash "$@"
    status=$?
    set -e
    exit "$status"
fi
echo "loopback-only: not root or no unshare: running without a network namespace (the Ray tests skip)" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
