#!/usr/bin/env bash
# Every test from a fresh clone: installs what the tests need, then runs them all (`npm test`).
# The README's test command, and what CI runs (.ci/run).
set -euo pipefail

cd "$(dirname "$0")/.."

# Integration and fault tests start a real redis-server (tests/support/redisGlobalSetup.ts).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server not found; installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server </dev/null
  else
    echo "redis-server not found; install it first (sudo apt-get install -y redis-server, or brew install redis)" >&2
    exit 2
  fi
fi

npm ci --no-audit --no-fund
npm test
