#!/usr/bin/env bash
# Make sure the services the test suite talks to are up: PostgreSQL and Redis.
# Uses what the machine has; installs from Debian packages only when missing. Idempotent.
set -euo pipefail

log() { echo "[ci/services] $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then as_root apt-get update -qq; apt_ready=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_isready >/dev/null 2>&1; then
  log "installing postgresql"; apt_install postgresql
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$ver" ]; then apt_install postgresql; ver=$(ls /etc/postgresql | sort -V | tail -n1); fi
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { log "PostgreSQL is not reachable"; exit 1; }
# trust auth for local TCP is how this machine is set up; make sure the test database exists
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    su postgres -c "psql -c \"ALTER USER postgres PASSWORD NULL\"" >/dev/null 2>&1 || true
    su postgres -c "createdb test" >/dev/null 2>&1 || true
  fi
fi
psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null || { log "cannot log in to postgres@127.0.0.1/test"; exit 1; }
log "PostgreSQL ready"

# --- Redis (broker, event streams, locks) --------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server"; apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log "Redis is not reachable"; exit 1; }
log "Redis ready"
