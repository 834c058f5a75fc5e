"""Shared fixtures. Two tenants: `tenant` with a member in each role (owner Olivia, admin Adam,
developer Dev, viewer Vic), and `other_tenant` owned by Mallory, who must never see `tenant`."""

from __future__ import annotations

import functools
import os
import shutil

import httpx._transports.default
import pytest
from django.contrib.auth import get_user_model
from django.core.management.commands import flush
from django.db.backends.postgresql.operations import DatabaseOperations
from rest_framework.test import APIClient

from apps.access.services import api_key_issue
from apps.tenants.models import Role
from tests.factories import (
    AppFactory,
    DeploymentFactory,
    MembershipFactory,
    ProviderFactory,
    ProviderModelFactory,
    RouteFactory,
    TenantFactory,
    UserFactory,
)
from tests.fakes.openai_upstream import FakeOpenAIUpstream

FAKE_KEY = "sk-test-fake-key"

_truncate_flush = DatabaseOperations.sql_flush


def _delete_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """Empty the tables after a transactional test (`transaction=True`, the live servers) with DELETEs instead of
    Django's one TRUNCATE: the tables hold a few rows, and TRUNCATE gives each table and index a new file, a
    quarter of a second per test on this suite's ~100 tables. Django's foreign keys are DEFERRABLE INITIALLY
    DEFERRED and the flush runs in one transaction, so the order of the DELETEs does not matter."""
    if reset_sequences or not tables:
        return _truncate_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    emptied = [table for table in tables if table not in _KEPT_BY_FLUSH]
    return [" ".join(f"DELETE FROM {self.quote_name(table)};" for table in emptied)]  # noqa: S608 - Django's own table names, quoted


# What migrations make and no test changes: the flush's post_migrate signal would make the same rows again (new
# ids, a bulk insert per app); kept, it finds them all there.
_KEPT_BY_FLUSH = frozenset({"django_content_type", "auth_permission"})


DatabaseOperations.sql_flush = _delete_flush

_flush_handle = flush.Command.handle


def _flush_keeping_what_migrations_made(self, **options):
    """The flush after a transactional test emits post_migrate so that content types and permissions exist again;
    kept by the DELETEs above, they are all there, and the signal's check of each app cost ~50 ms a test. A flush
    that resets sequences truncates every table (the kept ones too), so it still emits the signal."""
    if not options.get("reset_sequences", True):  # the command resets them unless told not to
        options["inhibit_post_migrate"] = True
    return _flush_handle(self, **options)


flush.Command.handle = _flush_keeping_what_migrations_made

_create_ssl_context = httpx._transports.default.create_ssl_context


@functools.cache
def _default_ssl_context():
    return _create_ssl_context()


def _shared_ssl_context(verify=True, cert=None, trust_env=True):
    """httpx builds an SSL context (certifi's whole CA bundle) for every client, ~30 ms, though the suite's
    clients talk plain HTTP to 127.0.0.1: the default one is built once per test process and shared."""
    if verify is True and cert is None and trust_env:
        return _default_ssl_context()
    return _create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


httpx._transports.default.create_ssl_context = _shared_ssl_context


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def members(tenant):
    """{role: Membership} in `tenant`."""
    return {
        role: MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=f"{role}-user"))
        for role in Role.values
    }


@pytest.fixture
def owner(members):
    return members[Role.OWNER].user


@pytest.fixture
def mallory(other_tenant):
    return MembershipFactory(tenant=other_tenant, role=Role.OWNER, user=UserFactory(username="mallory")).user


@pytest.fixture
def app(tenant, members):
    return AppFactory(tenant=tenant, slug="billing-bot", name="Billing bot", created_by=members[Role.OWNER].user)


@pytest.fixture
def other_app(other_tenant, mallory):
    return AppFactory(tenant=other_tenant, slug="globex-bot", name="Globex bot", created_by=mallory)


@pytest.fixture
def issued_key(app):
    """(ApiKey, plaintext) for `app`."""
    return api_key_issue(app=app, name="test key", actor_membership=None)


@pytest.fixture
def echo_provider(tenant):
    return ProviderFactory(tenant=tenant, slug="echo", name="Echo", kind="echo")


@pytest.fixture
def echo_model(echo_provider):
    return ProviderModelFactory(provider=echo_provider, name="echo", upstream_id="echo")


@pytest.fixture
def route(echo_model):
    """Route `smart` of `tenant`, served by `echo_model`."""
    return DeploymentFactory(route=RouteFactory(tenant=echo_model.tenant, alias="smart"), model=echo_model).route


@pytest.fixture
def other_route(other_tenant):
    """Route `globex-smart` of `other_tenant`, with a deployment of its own echo model."""
    return DeploymentFactory(route=RouteFactory(tenant=other_tenant, alias="globex-smart")).route


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(client):
    """Log a user into Django's test client: client_for(user)."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def superuser_client(client):
    """Django's test client logged in as a superuser, for the admin."""
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    return client


@pytest.fixture
def api_client_for():
    def login(user):
        api = APIClient()
        api.force_authenticate(user=user)
        return api

    return login


@pytest.fixture
def fake_upstream(settings):
    """A fake OpenAI API on 127.0.0.1 that requires the Bearer key FAKE_KEY (tests/fakes/openai_upstream.py).
    The operator allows tenants' providers to reach it, as for a shared local Ollama."""
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]
    with FakeOpenAIUpstream(api_key=FAKE_KEY) as fake:
        yield fake


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI_REQUIRE_ALL"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} does not exist")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); browser tests skipped")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread for the
    rest of the session, and pytest-asyncio cannot start its own loop after that."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
