#!/usr/bin/env bash
# The README's production path, end to end, as CI's last step: DEBUG off with explicit secrets, collectstatic,
# migrations on PostgreSQL, the server started as the README says (uvicorn portal.asgi:application …), then the
# login page, the catalog (logged in), a 404 and a /v1 call fetched from it. Any failure stops it with the reason
# and the server's log. Throwaway PostgreSQL and Redis (scripts/services.sh), like scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

services_init
echo -n "prod-smoke: " && services_postgres
echo -n "prod-smoke: " && services_redis

secret() { python -c 'import secrets; print(secrets.token_urlsafe(48))'; }
port="$(services_free_port)"
base="http://127.0.0.1:${port}"
export DEBUG=false HTTPS=false ALLOWED_HOSTS=127.0.0.1 SITE_URL="$base"
export SECRET_KEY="$(secret)" API_KEY_PEPPERS="1:$(secret)"
export FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
# Nothing of this run lands in the clone: its static files, its var/ (demo password, beat lock) and its mail.
export STATIC_ROOT="$services_dir/static" VAR_DIR="$services_dir/var"
export EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend
export DEMO_ADMIN_PASSWORD="$(secret)"
unset DJANGO_ALLOW_ASYNC_UNSAFE CELERY_TASK_ALWAYS_EAGER GATEWAY_CALL_SINK EMBEDDED_BEAT PROMETHEUS_MULTIPROC_DIR

fail() {
  echo "prod-smoke: FAILED: $*" >&2
  if [ -f "$services_dir/server.log" ]; then
    echo "--- server log (last 60 lines) ---" >&2
    tail -n 60 "$services_dir/server.log" >&2
  fi
  exit 1
}

python manage.py check --deploy >/dev/null 2>"$services_dir/check.log" || { cat "$services_dir/check.log" >&2; fail "manage.py check --deploy"; }
python manage.py migrate --noinput >/dev/null || fail "manage.py migrate"
python manage.py collectstatic --noinput >/dev/null || fail "manage.py collectstatic"
python manage.py seed_demo --url "$base" >/dev/null || fail "manage.py seed_demo"
key="$(python manage.py create_api_key --tenant demo --app demo-app)" || fail "manage.py create_api_key"

uvicorn portal.asgi:application --host 127.0.0.1 --port "$port" --workers 2 --loop uvloop --http httptools \
  --no-access-log >"$services_dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; services_cleanup' EXIT INT TERM
for _ in $(seq 120); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  sleep 0.5
done
curl -fsS "$base/readyz" >/dev/null || fail "/readyz"

python - "$base" "$key" <<'PYTHON' || fail "the pages and the /v1 call"
import os
import re
import sys

import httpx

base, key = sys.argv[1], sys.argv[2]


def check(condition: bool, what: str, response: httpx.Response) -> None:
    if not condition:
        sys.exit(f"{what}: HTTP {response.status_code} {response.request.url}\n{response.text[:2000]}")


with httpx.Client(base_url=base, timeout=30) as client:
    login = client.get("/accounts/login/")
    check(login.status_code == 200 and "Log in" in login.text, "the login page", login)
    css = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', login.text)
    check(css is not None, "the login page links the collected, hashed stylesheet", login)
    stylesheet = client.get(css.group(1))
    check(stylesheet.status_code == 200 and "max-age" in stylesheet.headers.get("cache-control", ""), "CSS", stylesheet)
    check("content-security-policy" in login.headers, "the login page's Content-Security-Policy header", login)

    form = {"username": "admin", "password": os.environ["DEMO_ADMIN_PASSWORD"], "next": "/catalog/"}
    form["csrfmiddlewaretoken"] = client.cookies["csrftoken"]
    catalog = client.post("/accounts/login/", data=form, follow_redirects=True)
    check(catalog.status_code == 200 and str(catalog.url).endswith("/catalog/"), "log in, then the catalog", catalog)
    check("Sentiment analysis" in catalog.text, "the catalog lists the demo services", catalog)

    missing = client.get("/no-such-page/")
    check(missing.status_code == 404 and "Not found" in missing.text, "the 404 page", missing)
    check("URLconf" not in missing.text, "a 404 without the debug page", missing)

    body = {"model": "echo", "messages": [{"role": "user", "content": "Hello from production"}]}
    answer = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    check(answer.status_code == 200, "POST /v1/chat/completions", answer)
    content = answer.json()["choices"][0]["message"]["content"]
    check(content == "Hello from production", f"the echo answer ({content!r})", answer)
PYTHON

echo "prod-smoke: the login page, its stylesheet, the catalog, a 404 and a /v1 call answered on $base"
echo "prod-smoke: 5 passed, 0 failed"
