"""One settings module for every environment; behaviour changes only through environment variables.

With no variable set the portal runs on the embedded default: SQLite, an in-process cache and
eager Celery tasks. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import base64
import secrets
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_str,
    generated_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# What the portal makes for itself on the embedded default: generated secrets, the demo admin's password, mail
# (make run), metric files. Git-ignored; keep it with the SQLite database (a backup needs both).
VAR_DIR = Path(env_str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=False)

# SQLite by default, so a clone runs with no services; PostgreSQL (psycopg 3) when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",  # empty counts as unset (.env.example)
        conn_max_age=env_int("DB_CONN_MAX_AGE", default=0),
    )
}
# The embedded default is a portal whose database is SQLite (DATABASE_URL unset, or sqlite://…): one machine,
# one file. Its secrets are made on first use and kept in VAR_DIR beside that file, so every command works from a
# second shell with nothing set. A server database (PostgreSQL) is production: replicas share it and must share
# the secrets, so they come from the environment and their absence stops the start (unless DEBUG is on).
EMBEDDED = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if EMBEDDED:
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA busy_timeout = 5000;", "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _secret(name: str, make: Callable[[], str], example: str) -> str:
    """NAME from the environment (or NAME_FILE); on the embedded default or with DEBUG, one made and kept in
    VAR_DIR. Never printed: only where it is kept."""
    value = env_secret(name)
    if value:
        return value
    if not (EMBEDDED or DEBUG):
        raise ImproperlyConfigured(
            f"{name} is required when DEBUG is off and DATABASE_URL names a server database (e.g. {example})"
        )
    path = VAR_DIR / name.lower().replace("_", "-")
    value, created = generated_secret(path, make)
    if created:
        sys.stderr.write(f"portal: made {name} for this installation, kept in {path} (set {name} in production)\n")
    return value


SECRET_KEY = _secret("SECRET_KEY", lambda: secrets.token_urlsafe(50), "a random string of 50 characters")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# HTTPS=true: the portal is served over TLS (directly or behind a proxy that sets X-Forwarded-Proto).
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
# Probes and Prometheus reach a replica directly, over plain HTTP, behind the TLS-terminating proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every page: scripts, styles and everything else only from the portal
# itself; no inline script, no inline style, no eval. The pages' behaviour lives in static/js. Views that embed a
# third-party UI relax it for themselves only (the Swagger UI at /api/docs/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "guardian",
    "ninja",
    "apps.core",
    "apps.tenants",
    "apps.access",
    "apps.catalog",
    "apps.prompts",
    "apps.providers",
    "apps.gateway",
    "apps.analytics",
    "apps.gitops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.audit_context_middleware",
    "axes.middleware.AxesMiddleware",  # last: it answers locked-out log-ins with the lockout page
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.tenants.context_processors.current_tenant",
                "apps.core.context_processors.notifications",
            ],
        },
    },
]

REDIS_URL = env_str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address before any password check
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row

# Log-in throttling (django-axes) on both forms, /accounts/login/ and /admin/login/: after LOGIN_FAILURE_LIMIT
# failures within LOGIN_LOCKOUT_MINUTES, the account is locked, and so is the address the failures came from
# (each counted on its own: guessing one account from many addresses, or many accounts from one address). Attempts
# live in the database, so every worker and replica sees them, with or without Redis. Lockouts are audited.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "apps.core.audit.client_ip"  # the address the audit trail records
AXES_LOCKOUT_CALLABLE = "apps.core.login_throttle.lockout_response"
AXES_VERBOSE = False  # a lockout is audited; a warning per failed log-in would flood the log under attack

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))  # filled by collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves the static files in every configuration. Production (a server database, DEBUG off) serves
# what `collectstatic` gathered, under hashed, compressed names; the embedded default and DEBUG serve them from the
# source folders directly, so `make run` needs no collectstatic step.
STATIC_FROM_SOURCE = EMBEDDED or DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if STATIC_FROM_SOURCE
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = STATIC_FROM_SOURCE

EMAIL_BACKEND = env_str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # filebased backend
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", default="portal@localhost")
# Where people reach the portal (scheme, host and port; no path): links in e-mails and webhooks start with it.
# `make run` sets it from PORT.
SITE_URL = env_str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://, got {SITE_URL!r}")

# API keys: HMAC-SHA256 under a pepper that is not SECRET_KEY. "id:secret" pairs; the first signs new keys,
# the others still verify existing ones, so peppers rotate without invalidating keys.
API_KEY_PEPPERS = env_list("API_KEY_PEPPERS") or _secret(
    "API_KEY_PEPPERS", lambda: f"1:{secrets.token_urlsafe(32)}", "'1:<random string>'"
).split(",")

# Credentials at rest (provider keys, GitLab tokens): Fernet keys, first encrypts, all decrypt.
# Generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or _secret(
    "FIELD_ENCRYPTION_KEYS", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(), "a Fernet key"
).split(",")

# Data plane (/v1 and the invoke endpoint).
GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = GATEWAY_MAX_BODY_BYTES
# Half a second: a change reaches an idle worker within 1 s even without Redis (with Redis it is pushed).
GATEWAY_SNAPSHOT_POLL_SECONDS = env_float("GATEWAY_SNAPSHOT_POLL_SECONDS", default=0.5)
GATEWAY_LOG_FLUSH_SECONDS = env_float("GATEWAY_LOG_FLUSH_SECONDS", default=1.0)
# Where the data plane hands call records: "redis" (a stream the Celery worker drains into the database;
# survives a crashed web process) or "memory" (the embedded default: a buffer flushed every second).
GATEWAY_CALL_SINK = env_str("GATEWAY_CALL_SINK", default="redis" if REDIS_URL else "memory")
GATEWAY_BREAKER_THRESHOLD = env_int("GATEWAY_BREAKER_THRESHOLD", default=3)
GATEWAY_BREAKER_COOLDOWN_SECONDS = env_float("GATEWAY_BREAKER_COOLDOWN_SECONDS", default=30.0)
# How long POST /v1/responses keeps a response for previous_response_id and GET /v1/responses/{id}: on Redis when
# REDIS_URL is set, else in each process's memory (a response is then known only to the process that made it).
GATEWAY_RESPONSES_RETENTION_SECONDS = env_int("GATEWAY_RESPONSES_RETENTION_SECONDS", default=30 * 24 * 3600)
# Networks (CIDR) and host names that tenants' providers may reach although loopback, private or link-local (a
# shared Ollama or vLLM), e.g. "10.0.0.0/8,ollama". Providers the operator registers from the environment are trusted.
PROVIDER_ALLOW_PRIVATE_NETWORKS = env_list("PROVIDER_ALLOW_PRIVATE_NETWORKS", default=[])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.access.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "apps.access.authentication.AppKeyRefusal",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# The catalog (/api/v1/services/) is read by people as above AND by apps with their API key (`catalog` scope).
# Named here, the composition root, so that the catalog app does not import the access app above it.
CATALOG_API_AUTHENTICATION_CLASSES = [
    "apps.access.authentication.ApiKeyAuthentication",
    *REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
]
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Gateway Portal API",
    "DESCRIPTION": "Management API of the AI gateway portal: tenants, members, apps, keys, providers, models, routes, "
    "services, plans and the service catalog.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from the drf-spectacular-sidecar package, not a CDN: the docs work where there is no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names (kind, status) other choice sets share: named once, by what they are.
    "ENUM_NAME_OVERRIDES": {
        "ServiceKindEnum": "apps.catalog.models.ServiceKind",
        "LifecycleEnum": "apps.catalog.models.Lifecycle",
        "ProviderKindEnum": "apps.providers.clients.registry.kind_choices",
    },
}

# Celery: Redis as broker when configured; otherwise tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600  # beat sends a task every second: their results must not pile up in Redis
# The beat schedule (intervals in seconds). With Redis, `celery beat` sends these; on the embedded default the
# web process runs them itself (apps/core/embedded_beat.py), except the stream ingest that needs Redis.
CELERY_BEAT_SCHEDULE = {
    "call-logs-ingest": {"task": "analytics.call_logs_ingest", "schedule": 1.0, "options": {"expires": 5}},
    "rollups-refresh": {"task": "analytics.rollups_refresh", "schedule": 60.0, "options": {"expires": 55}},
    "rollups-refresh-days": {
        "task": "analytics.rollups_refresh",
        "schedule": 600.0,
        "args": [["day"]],
        "options": {"expires": 590},
    },
    "alerts-evaluate": {"task": "analytics.alerts_evaluate", "schedule": 60.0, "options": {"expires": 55}},
    "budget-alerts": {"task": "analytics.budget_alerts_evaluate", "schedule": 60.0, "options": {"expires": 55}},
    "call-log-partitions": {"task": "analytics.call_log_partitions_ahead", "schedule": 3600.0},
    "analytics-retention": {"task": "analytics.retention_prune", "schedule": 3600.0},
    "gitops-sync-scheduled": {"task": "gitops.sync_scheduled", "schedule": 900.0, "options": {"expires": 890}},
    "gitops-drift-scheduled": {"task": "gitops.drift_scheduled", "schedule": 300.0, "options": {"expires": 290}},
}
EMBEDDED_BEAT = env_bool("EMBEDDED_BEAT", default=CELERY_TASK_ALWAYS_EAGER)
EMBEDDED_BEAT_LOCK = VAR_DIR / "embedded-beat.lock"

# Alert webhooks go to public addresses only, unless internal receivers are allowed (a self-hosted chat, a pager).
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", default=False)

# GitLab sync (apps/gitops): the networks or host names a tenant's GitLab URL may reach although private (a
# self-managed GitLab inside the network, e.g. "10.0.0.0/8,gitlab.internal"); how long one GitLab call may take;
# how long edits gather before one sync commits them all; the first wait before a retry (doubled each time; the
# tests shorten it).
GITLAB_ALLOW_PRIVATE_NETWORKS = env_list("GITLAB_ALLOW_PRIVATE_NETWORKS", default=[])
GITLAB_TIMEOUT_SECONDS = env_float("GITLAB_TIMEOUT_SECONDS", default=10.0)
GITLAB_RETRY_BACKOFF_SECONDS = env_float("GITLAB_RETRY_BACKOFF_SECONDS", default=0.5)
GITOPS_SYNC_DEBOUNCE_SECONDS = env_float("GITOPS_SYNC_DEBOUNCE_SECONDS", default=10.0)

# Analytics: retention of raw call logs (whole daily partitions on PostgreSQL) and of each rollup granularity.
ANALYTICS_LOG_RETENTION_DAYS = env_int("ANALYTICS_LOG_RETENTION_DAYS", default=30)
ANALYTICS_ROLLUP_RETENTION_DAYS = {
    "minute": env_int("ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS", default=3),
    "hour": env_int("ANALYTICS_HOUR_ROLLUP_RETENTION_DAYS", default=90),
    "day": env_int("ANALYTICS_DAY_ROLLUP_RETENTION_DAYS", default=730),
}
# Minutes re-rolled on every refresh: records reach the database a few seconds late (batches, the stream).
ANALYTICS_ROLLUP_LOOKBACK_MINUTES = env_int("ANALYTICS_ROLLUP_LOOKBACK_MINUTES", default=10)
ANALYTICS_CALL_STREAM = env_str("ANALYTICS_CALL_STREAM", default="gateway:calls")
ANALYTICS_CALL_STREAM_GROUP = "call-log-writers"
# A safety bound on Redis memory if no worker drains the stream for a long time: entries, each a batch of up to
# 500 records (~0.6 KB each) sent by one web process within 50 ms.
ANALYTICS_CALL_STREAM_MAXLEN = env_int("ANALYTICS_CALL_STREAM_MAXLEN", default=200_000)
# A reader's unacknowledged entries are taken over by another reader after this long (it died mid-batch).
ANALYTICS_INGEST_CLAIM_IDLE_MS = env_int("ANALYTICS_INGEST_CLAIM_IDLE_MS", default=60_000)
# Readers (one per worker process and thread) with nothing pending are removed from the group after this long idle:
# a restarted worker's readers would otherwise stay listed forever. A live one idle that long comes back by itself.
ANALYTICS_INGEST_CONSUMER_IDLE_MS = env_int("ANALYTICS_INGEST_CONSUMER_IDLE_MS", default=600_000)
# Stream entries per read, INSERT and XACK (an entry holds up to 500 records).
ANALYTICS_INGEST_BATCH = env_int("ANALYTICS_INGEST_BATCH", default=10)

# GET /metrics (Prometheus): operators read every sample with the token or from these networks; a member's personal
# token reads its tenants' samples. The address is the client's as the ASGI server reports it (uvicorn takes
# X-Forwarded-For only from --forwarded-allow-ips).
METRICS_TOKEN = env_secret("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
# Several worker processes: each writes its metrics to files here and /metrics merges them. prometheus_client reads
# the variable itself, at its import; `make run` sets it (var/prometheus) and empties it at start.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} is not a directory")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A refused request (403) is no error of the server: one line with the reason, no traceback.
    "filters": {"refusals": {"()": "apps.core.logging.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["refusals"]},
    },
}
