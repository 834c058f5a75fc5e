"""A provider's `trusted` flag lets it reach internal addresses (a local Ollama or vLLM). Only the operator gives it:
providers registered from the environment, a superuser in the Django admin; a tenant admin never does, and moving a
trusted provider to another address ends the trust."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.core.errors import NotPermitted
from apps.core.models import AuditEvent
from apps.providers.models import Provider
from apps.providers.services import provider_create, provider_test_connection
from apps.tenants.models import Role
from tests.conftest import FAKE_KEY
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

PROVIDERS = f"{API}/tenants/acme/providers/"


@pytest.fixture
def upstream(fake_upstream, settings):
    """The fake OpenAI API on 127.0.0.1, with no allow-list: only trust reaches it."""
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = []
    return fake_upstream


@pytest.fixture
def local(tenant, upstream) -> Provider:
    """A provider the operator registered and trusts, on the fake upstream."""
    return provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="local",
        name="Local",
        kind="openai",
        base_url=upstream.base_url,
        api_key=FAKE_KEY,
        trusted=True,
    )


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


def test_a_trusted_provider_reaches_a_local_server(local, upstream):
    assert provider_test_connection(provider=local, actor_membership=None) == (True, "Connected: 2 model(s) available.")
    assert [request.path for request in upstream.requests] == ["/v1/models"]
    assert AuditEvent.objects.get(action="provider.create").changes["trusted"] is True


def test_the_same_provider_untrusted_is_refused(local, upstream):
    Provider.objects.filter(pk=local.pk).update(trusted=False)
    ok, message = provider_test_connection(provider=Provider.objects.get(pk=local.pk), actor_membership=None)
    assert (ok, "may not connect to an internal address" in message) == (False, True)
    assert upstream.requests == []


def test_a_tenant_admin_cannot_create_a_trusted_provider(tenant, members, upstream):
    with pytest.raises(NotPermitted):
        provider_create(
            tenant=tenant,
            actor_membership=members[Role.ADMIN],
            slug="x",
            name="X",
            kind="openai",
            base_url=upstream.base_url,
            trusted=True,
        )


def test_renaming_a_trusted_provider_keeps_the_trust(admin_api, local):
    response = admin_api.patch(f"{PROVIDERS}local/", {"name": "Local GPU", "enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["trusted"] is True


def test_a_member_moving_a_trusted_provider_ends_the_trust(admin_api, local, upstream):
    moved_inside = upstream.base_url.replace("/v1", "/other/v1")
    assert_field_error(admin_api.patch(f"{PROVIDERS}local/", {"base_url": moved_inside}, format="json"), "base_url")
    assert Provider.objects.get(slug="local").trusted is True  # refused: nothing changed
    response = admin_api.patch(f"{PROVIDERS}local/", {"base_url": "https://api.example/v1"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["trusted"] is False
    assert AuditEvent.objects.get(action="provider.update").changes["trusted"] == [True, False]


def _admin_form(provider: Provider, **changes) -> dict:
    form = {
        "tenant": provider.tenant_id,
        "slug": provider.slug,
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "options": "{}",
        "enabled": "on",
        "api_key": "",
        "_save": "Save",
    }
    return {**form, **changes}


def test_a_superuser_trusts_a_provider_in_the_admin(superuser_client, tenant, upstream):
    provider = Provider.objects.create(tenant=tenant, slug="gpu", name="GPU", kind="openai", base_url=upstream.base_url)
    response = superuser_client.post(f"/admin/providers/provider/{provider.pk}/change/", _admin_form(provider))
    assert response.status_code == 302, response.content[:2000]
    assert Provider.objects.get(pk=provider.pk).trusted is False  # an unticked box
    response = superuser_client.post(
        f"/admin/providers/provider/{provider.pk}/change/", _admin_form(provider, trusted="on")
    )
    assert response.status_code == 302, response.content[:2000]
    assert Provider.objects.get(pk=provider.pk).trusted is True


def test_staff_who_are_not_superusers_see_trust_read_only(client, tenant, upstream):
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "x", is_staff=True)
    staff.user_permissions.add(*staff.user_permissions.model.objects.filter(codename__endswith="_provider"))
    client.force_login(staff)
    provider = Provider.objects.create(tenant=tenant, slug="gpu", name="GPU", kind="openai", base_url=upstream.base_url)
    response = client.post(f"/admin/providers/provider/{provider.pk}/change/", _admin_form(provider, trusted="on"))
    assert response.status_code == 302, response.content[:2000]
    assert Provider.objects.get(pk=provider.pk).trusted is False


def test_the_admin_refuses_a_base_url_with_credentials(superuser_client, tenant, upstream):
    provider = Provider.objects.create(tenant=tenant, slug="gpu", name="GPU", kind="openai", base_url=upstream.base_url)
    form = _admin_form(provider, base_url="http://user:pass@gpu.example/v1")
    response = superuser_client.post(f"/admin/providers/provider/{provider.pk}/change/", form)
    assert response.status_code == 200
    assert "Remove the user name and password" in response.content.decode()
    assert Provider.objects.get(pk=provider.pk).base_url == upstream.base_url
