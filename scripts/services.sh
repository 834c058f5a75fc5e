# Throwaway servers for scripts that need real ones (scripts/test.sh, scripts/prod_smoke.sh): PostgreSQL and Redis
# in a temporary directory, on free ports, stopped and removed on exit whatever happened. Source it, then:
#   services_init                 # the temporary directory ($services_dir) and the clean-up on exit
#   services_postgres             # exports DATABASE_URL (an empty database "portal", user postgres, trust auth)
#   services_redis                # exports REDIS_URL
# Needs `python` on PATH (to pick free ports).

services_dir=""
_services_pg_bin=""
_services_pg_data=""
_services_as_pg=()

services_init() {
  services_dir="$(mktemp -d /tmp/portal-services.XXXXXX)"
  chmod 755 "$services_dir"
  trap services_cleanup EXIT INT TERM
}

services_cleanup() {
  if [ -n "$_services_pg_bin" ] && [ -f "$_services_pg_data/postmaster.pid" ]; then
    "${_services_as_pg[@]}" "$_services_pg_bin/pg_ctl" -D "$_services_pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$services_dir/redis.pid" ]; then kill "$(cat "$services_dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$services_dir"
}

services_free_port() {
  python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

services_postgres() {
  _services_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$_services_pg_bin" ] || [ ! -x "$_services_pg_bin/initdb" ]; then
    echo "PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql) or set DATABASE_URL." >&2
    exit 1
  fi
  _services_pg_data="$services_dir/pg"
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root.
    install -d -o postgres -g postgres "$_services_pg_data"
    _services_as_pg=(runuser -u postgres --)
  else
    mkdir -p "$_services_pg_data"
  fi
  local port
  port="$(services_free_port)"
  (cd / && "${_services_as_pg[@]}" "$_services_pg_bin/initdb" -D "$_services_pg_data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >/dev/null)
  (cd / && "${_services_as_pg[@]}" "$_services_pg_bin/pg_ctl" -D "$_services_pg_data" -w -l "$_services_pg_data/server.log" start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $_services_pg_data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null)
  "$_services_pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres portal
  export DATABASE_URL="postgres://postgres@127.0.0.1:${port}/portal"
  echo "throwaway PostgreSQL on port $port"
}

services_redis() {
  if ! command -v redis-server >/dev/null; then
    echo "redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL." >&2
    exit 1
  fi
  local port
  port="$(services_free_port)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$services_dir" --pidfile "$services_dir/redis.pid" --logfile "$services_dir/redis.log" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$port" ping | grep -q PONG || { echo "redis-server did not start" >&2; exit 1; }
  export REDIS_URL="redis://127.0.0.1:${port}/0"
  echo "throwaway Redis on port $port"
}
