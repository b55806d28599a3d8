#!/usr/bin/env bash
# Make HAProxy available: the cluster tests (tests/cluster/) put a real load balancer in front
# of several `botrt serve` workers, as an operator would.
# Idempotent and quiet: does nothing when haproxy is already installed.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo ".ci/haproxy.sh: HAProxy is not installed and installing it needs root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends haproxy >/dev/null

if ! command -v haproxy >/dev/null 2>&1; then
    echo ".ci/haproxy.sh: installed haproxy, but the haproxy command is still not found" >&2
    exit 1
fi
