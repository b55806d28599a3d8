#!/usr/bin/env bash
# Make PostgreSQL's server binaries available: CI runs the storage and plugin tests on a
# real PostgreSQL (botrt.testing._postgres starts a throwaway server from them).
# Idempotent and quiet: does nothing when pg_ctl is already installed.
set -euo pipefail

have_postgres() {
    command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

if have_postgres; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo ".ci/postgres.sh: PostgreSQL is not installed and installing it needs root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! have_postgres; then
    echo ".ci/postgres.sh: installed postgresql, but pg_ctl is still not found" >&2
    exit 1
fi
