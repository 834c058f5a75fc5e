#!/usr/bin/env bash
# Run the whole suite against a real PostgreSQL and a real Redis. When DATABASE_URL / REDIS_URL are not set,
# start throwaway servers in a temporary directory on free ports and stop them on exit, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."

workdir="$(mktemp -d /tmp/portal-test.XXXXXX)"
chmod 755 "$workdir"
pg_bin=""
pg_data="$workdir/pg"
as_pg=()

cleanup() {
  if [ -n "$pg_bin" ] && [ -f "$pg_data/postmaster.pid" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$workdir/redis.pid" ]; then kill "$(cat "$workdir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -z "${DATABASE_URL:-}" ]; then
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql) or set DATABASE_URL." >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root.
    install -d -o postgres -g postgres "$pg_data"
    as_pg=(runuser -u postgres --)
  else
    mkdir -p "$pg_data"
  fi
  pg_port="$(free_port)"
  (cd / && "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null)
  (cd / && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -w -l "$pg_data/server.log" start \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null)
  export DATABASE_URL="postgres://postgres@127.0.0.1:${pg_port}/portal"
  echo "test: throwaway PostgreSQL on port $pg_port"
fi

if [ -z "${REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null; then
    echo "redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL." >&2
    exit 1
  fi
  redis_port="$(free_port)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --dir "$workdir" --pidfile "$workdir/redis.pid" --logfile "$workdir/redis.log" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping | grep -q PONG || { echo "redis-server did not start" >&2; exit 1; }
  export REDIS_URL="redis://127.0.0.1:${redis_port}/0"
  echo "test: throwaway Redis on port $redis_port"
fi

export SECRET_KEY="${SECRET_KEY:-test-only-secret-key}"
export API_KEY_PEPPERS="${API_KEY_PEPPERS:-2:test-pepper-new,1:test-pepper-old}"
export FIELD_ENCRYPTION_KEYS="${FIELD_ENCRYPTION_KEYS:-dGVzdC1vbmx5LWZpZWxkLWtleS0zMi1ieXRlcy0hISE=}"
export CELERY_TASK_ALWAYS_EAGER="${CELERY_TASK_ALWAYS_EAGER:-true}"  # tasks run in-process: no worker in tests
# ... except where a test starts a real worker on the real Redis (tests/analytics/test_ingest_worker.py).
# Call records go through the in-memory sink unless a test picks the Redis stream, and no beat runs by itself.
export GATEWAY_CALL_SINK="${GATEWAY_CALL_SINK:-memory}"
export EMBEDDED_BEAT=false
export DJANGO_ALLOW_ASYNC_UNSAFE=true  # Playwright's sync API runs an event loop in the test thread
python -m pytest "$@"
