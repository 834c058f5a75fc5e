"""Shared fixtures. Two tenants: `tenant` with a member in each role (owner Olivia, admin Adam,
developer Dev, viewer Vic), and `other_tenant` owned by Mallory, who must never see `tenant`."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.auth import get_user_model
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
