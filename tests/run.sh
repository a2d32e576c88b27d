#!/usr/bin/env bash
# Install everything the tests need, make sure PostgreSQL, Redis and Chromium are there, run the checks
# (ruff, mypy, the import layers) and the whole suite.
# Usage: bash tests/run.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium for the browser tests, and an emoji font so their screenshots (docs/screenshots) show the icons.
if [ ! -x /usr/bin/chromium ] || ! grep -qi "color emoji" <<<"$(fc-list 2>/dev/null)"; then
  echo "Installing Chromium and the Noto color emoji font (Debian packages) for the browser tests..."
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "Starting PostgreSQL on 127.0.0.1:5432..."
  if ! command -v pg_ctlcluster >/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis on 127.0.0.1:6379 (the shared rate limit's tests)..."
  if ! command -v redis-server >/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

python3 -m ruff check .
python3 -m mypy
python3 -c "from importlinter.cli import lint_imports_command; lint_imports_command()"  # lint-imports, without relying on PATH
status=0
python3 -m pytest -n 2 "$@" || status=$?  # two workers: the suite takes about twice as long alone
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
