#!/usr/bin/env bash
# Make sure the programs the test suite starts for itself are installed.
#
# The tests start their own throwaway servers (see tests/conftest.py); this script
# only installs the binaries, from Debian's packages, when they are missing. It is
# idempotent and quiet: it prints nothing when everything is already there.
#
#   scripts/ensure-services.sh            # what `make services` runs
set -euo pipefail

APT_LOG="$(mktemp -t loopml-apt.XXXXXX.log)"
APT_UPDATED=0
CLEANUP=()  # commands run at exit, e.g. removing a temporary policy-rc.d

cleanup() {
    rm -f "$APT_LOG"
    local step
    for step in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do
        eval "$step" || true
    done
}
trap cleanup EXIT

say() { printf 'ensure-services: %s\n' "$*" >&2; }

die() {
    say "error: $*"
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root to run '$*'; run it as root (or with passwordless sudo), or install the packages by hand"
    fi
}

# apt_install PACKAGE... : install Debian packages non-interactively, quietly.
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; install $* with your system's package manager"
    say "installing $* (apt)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$APT_LOG" 2>&1; then
            cat "$APT_LOG" >&2
            die "apt-get update failed (see above); check the network and the apt sources"
        fi
        APT_UPDATED=1
    fi
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        --no-install-recommends "$@" </dev/null >"$APT_LOG" 2>&1; then
        cat "$APT_LOG" >&2
        die "apt-get install $* failed (see above)"
    fi
}

# --- PostgreSQL: the metadata store's second backend --------------------------------------
# The tests run initdb/pg_ctl themselves in a temporary directory, so only the server
# binaries are needed. Debian's package would also create and start a system cluster
# ("main", port 5432); a createcluster.d drop-in stops it from creating one.
postgres_binaries() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

ensure_postgres() {
    postgres_binaries && return 0
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    printf '# written by loopml scripts/ensure-services.sh: tests start their own servers\ncreate_main_cluster = false\n' \
        | as_root tee /etc/postgresql-common/createcluster.d/loopml-no-main-cluster.conf >/dev/null
    apt_install postgresql
    postgres_binaries || die "installed postgresql but found no /usr/lib/postgresql/*/bin/initdb"
    if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
        die "the 'postgres' user is missing; the test fixture runs initdb as that user"
    fi
}

# --- Redis: the online feature store's second backend --------------------------------------
# The tests start their own redis-server on 127.0.0.1 and a free port, so only the binary
# is needed. Debian's package would also start a system server on port 6379 and enable
# it at boot. While apt runs, a policy-rc.d that forbids starting services keeps it
# down (Docker images usually ship one already; an existing one is left alone), and
# whatever started anyway is stopped and disabled afterwards, with or without systemd.
POLICY_RC=/usr/sbin/policy-rc.d

forbid_service_starts() {
    [ -e "$POLICY_RC" ] && return 0
    printf '#!/bin/sh\n# written by loopml scripts/ensure-services.sh for one apt-get install\nexit 101\n' \
        | as_root tee "$POLICY_RC" >/dev/null
    as_root chmod 755 "$POLICY_RC"
    CLEANUP+=("as_root rm -f '$POLICY_RC'")
}

stop_system_redis() {
    if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable redis-server.service >/dev/null 2>&1 || true
        if [ -d /run/systemd/system ]; then  # systemd is the running init
            as_root systemctl stop redis-server.service >/dev/null 2>&1 || true
        fi
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/redis-server ]; then
        as_root update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
    if [ ! -d /run/systemd/system ] && [ -x /etc/init.d/redis-server ]; then
        as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    fi
    # Last resort, for an init we do not know: the pid file Debian's configuration names
    # (/proc rather than ps: slim images have no procps).
    local pid
    pid="$(cat /run/redis/redis-server.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "redis-server" ]; then
        as_root kill "$pid" 2>/dev/null || true
    fi
}

ensure_redis() {
    command -v redis-server >/dev/null 2>&1 && return 0
    forbid_service_starts
    apt_install redis-server
    stop_system_redis
    command -v redis-server >/dev/null 2>&1 \
        || die "installed redis-server but it is not on PATH (looked for 'redis-server')"
}

# The web UI's tests drive Debian's headless Chromium through Playwright (Playwright's own
# browser download is not reachable from every machine).
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    apt_install chromium
    command -v chromium >/dev/null 2>&1 \
        || die "installed chromium but it is not on PATH (looked for 'chromium')"
}

ensure_postgres
ensure_redis
ensure_chromium
