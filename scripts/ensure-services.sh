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
trap 'rm -f "$APT_LOG"' EXIT
APT_UPDATED=0

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
# Not needed yet. When the Redis online store lands, add here:
#   ensure_redis() { command -v redis-server >/dev/null 2>&1 || apt_install redis-server; }
# and call it below.

ensure_postgres
