#!/usr/bin/env bash
# Run the whole suite against a real PostgreSQL and a real Redis. When DATABASE_URL / REDIS_URL are not set,
# start throwaway servers in a temporary directory on free ports and stop them on exit, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

services_init
if [ -z "${DATABASE_URL:-}" ]; then
  echo -n "test: " && services_postgres
fi
if [ -z "${REDIS_URL:-}" ]; then
  echo -n "test: " && services_redis
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
# One pytest-xdist worker per core, each with its own test database and Redis database (tests/xdist_isolation.py).
# Tests are handed out one by one in collection order, so each worker still runs the browser tests after all its
# others (tests/conftest.py: Playwright leaves an event loop running). PYTEST_WORKERS=0 runs in this process.
python -m pytest -n "${PYTEST_WORKERS:-$(nproc)}" --dist load "$@"
