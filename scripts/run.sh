#!/usr/bin/env bash
# Run the portal on the embedded default (SQLite, in-process cache, eager tasks, echo provider, demo data).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-true}"
export PORT="${PORT:-8000}"
python manage.py migrate --noinput >/dev/null
python manage.py seed_demo --url "http://127.0.0.1:${PORT}"
exec uvicorn portal.asgi:application --host 127.0.0.1 --port "$PORT" --no-access-log
