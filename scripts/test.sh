#!/usr/bin/env bash
# Runs every test. Servers the tests need and this machine may lack are installed and
# started here; PostgreSQL must run on 127.0.0.1:5432 (it is started if it is installed
# but stopped). Under CI=true a missing server fails the tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

cargo test --workspace --locked "$@"
