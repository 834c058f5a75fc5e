#!/usr/bin/env bash
# Run the portal on the embedded default (SQLite, in-process cache, eager tasks, echo provider, demo data).
# DEBUG stays off unless asked for (DEBUG=true make run): a mistyped URL gets the portal's 404 page, not Django's
# debug page with the URL map. The secrets are made on the first run and kept in var/ (portal/settings.py).
set -euo pipefail
cd "$(dirname "$0")/.."
export PORT="${PORT:-8000}"
# Links in e-mails (subscription decisions, alerts) point here.
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"
# Mail (subscription decisions, alerts) lands in var/mail/ instead of flooding the terminal.
export EMAIL_BACKEND="${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}"
python manage.py migrate --noinput >/dev/null
python manage.py seed_demo --url "$SITE_URL"
# Each uvicorn worker writes its metrics to files here and GET /metrics merges them (apps/analytics/metrics.py).
# Emptied at every start: the files of a previous run's processes would otherwise be summed in forever.
var_dir="${VAR_DIR:-$PWD/var}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$var_dir/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
rm -f "$PROMETHEUS_MULTIPROC_DIR"/*.db
# uvicorn on uvloop + httptools, chosen over granian by `make bench` (README "Performance"): more requests/s from
# 64 clients up and in the 1,000-slow-clients row, and less memory per worker.
# With Redis, one worker process per core (WEB_CONCURRENCY to change): each keeps its own snapshot and connection
# pools, and the limits, budgets and cache live in Redis. Without it they live in the process, so one worker:
# two would each admit a whole limit.
if [ -n "${REDIS_URL:-}" ]; then workers="${WEB_CONCURRENCY:-$(nproc)}"; else workers="${WEB_CONCURRENCY:-1}"; fi
web=(uvicorn portal.asgi:application --host 127.0.0.1 --port "$PORT" --workers "$workers"
  --loop uvloop --http httptools --no-access-log)
if [ -z "${REDIS_URL:-}" ]; then
  exec "${web[@]}"  # no broker: the web process runs the periodic tasks itself (apps/core/embedded_beat.py)
fi
# With Redis: the web server, a Celery worker and beat together; Ctrl-C (or any one of them dying) stops all.
celery -A portal worker --loglevel=WARNING --concurrency=2 &
celery -A portal beat --loglevel=WARNING --schedule "$var_dir/celerybeat-schedule" &
"${web[@]}" &
trap 'kill $(jobs -p) 2>/dev/null; wait' INT TERM EXIT
wait -n
