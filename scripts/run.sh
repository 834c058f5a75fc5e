#!/usr/bin/env bash
# Run the portal on the embedded default (SQLite, in-process cache, eager tasks, echo provider, demo data).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-true}"
export PORT="${PORT:-8000}"
# Mail (subscription decisions, alerts) lands in var/mail/ instead of flooding the terminal.
export EMAIL_BACKEND="${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}"
python manage.py migrate --noinput >/dev/null
python manage.py seed_demo --url "http://127.0.0.1:${PORT}"
# uvicorn on uvloop + httptools, chosen over granian by `make bench` (README "Performance"): more requests/s from
# 64 clients up and in the 1,000-slow-clients row, and less memory per worker.
# One worker process per core (WEB_CONCURRENCY to change): each keeps its own snapshot and connection pools.
exec uvicorn portal.asgi:application --host 127.0.0.1 --port "$PORT" --workers "${WEB_CONCURRENCY:-$(nproc)}" \
  --loop uvloop --http httptools --no-access-log
