"""Outbound calls a tenant can aim never reach the portal's own network (issue 10, items 4 and 9).

A tenant admin chooses a provider's base URL; "test", "sync models" and /v1 then send the stored credential and the
caller's body there. Internal addresses are refused when the URL is saved (400 naming base_url) and, whatever DNS
answers later, when a connection is made (the fake upstream on 127.0.0.1 must receive nothing). The operator opens
them with PROVIDER_ALLOW_PRIVATE_NETWORKS or by trusting a provider (tests/providers/test_trust.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from apps.access.services import api_key_issue
from apps.providers.models import Provider, ProviderModel
from apps.providers.services import deployment_add, model_create, route_create
from apps.tenants.models import Role
from tests.conftest import FAKE_KEY
from tests.factories import AppFactory, ProviderFactory
from tests.fakes.dns import ControlledDNS
from tests.gateway.conftest import _fresh_gateway, live_gateway, refresh_snapshot  # noqa: F401 (fixtures)
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

PROVIDERS = f"{API}/tenants/acme/providers/"
PUBLIC = "93.184.215.14"  # what a name answers when the URL is saved: a public address
INTERNAL_URLS = [
    "http://127.0.0.1:8000/v1",
    "http://127.8.9.10/v1",
    "http://localhost:11434/v1",
    "http://localhost./v1",
    "http://LOCALHOST/v1",
    "http://admin.localhost/v1",
    "http://[::1]:8000/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://[::]/v1",
    "http://0.0.0.0:8000/v1",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/v1",
    "http://172.16.0.1/v1",
    "http://192.168.1.20/v1",
    "http://100.64.0.1/v1",
    "http://224.0.0.1/v1",
    "http://[fd00::1]/v1",
    "http://[fe80::1]/v1",
    "http://[fec0::1]/v1",
    "http://[64:ff9b::7f00:1]/v1",
    "http://inside.example/v1",  # a name that resolves to 127.0.0.1
]
NUMERIC_FORMS = ["http://2130706433/v1", "http://0x7f.1/v1", "http://127.1/v1", "http://0177.0.0.1/v1"]
WITH_CREDENTIALS = ["http://user:secret@api.example/v1", "https://user@api.example/v1"]


@pytest.fixture
def dns(monkeypatch) -> ControlledDNS:
    dns = ControlledDNS.install(monkeypatch)
    dns.answer("inside.example", "127.0.0.1")
    return dns


@pytest.fixture
def admin_api(members, api_client_for):
    return api_client_for(members[Role.ADMIN].user)


@pytest.fixture
def upstream(fake_upstream, settings):
    """The fake OpenAI API on 127.0.0.1, which the operator has NOT allowed (the shared fixture allows it)."""
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = []
    return fake_upstream


def _port(fake) -> int:
    return urlsplit(fake.base_url).port


def _create(api, base_url: str, slug: str = "evil"):
    body = {"slug": slug, "name": slug.title(), "kind": "openai", "base_url": base_url, "api_key": FAKE_KEY}
    return api.post(PROVIDERS, body, format="json")


@pytest.mark.parametrize("url", INTERNAL_URLS + NUMERIC_FORMS + WITH_CREDENTIALS)
def test_saving_a_provider_on_an_internal_address_is_a_400_naming_base_url(admin_api, dns, url):
    body = assert_field_error(_create(admin_api, url), "base_url")
    assert not Provider.objects.exists()
    assert "secret" not in body["errors"]["base_url"][0]


@pytest.mark.parametrize("url", ["http://localhost:11434/v1", "http://inside.example/v1", WITH_CREDENTIALS[0]])
def test_moving_a_provider_to_an_internal_address_is_refused(admin_api, dns, url):
    assert _create(admin_api, "https://api.example/v1").status_code == 201
    assert_field_error(admin_api.patch(f"{PROVIDERS}evil/", {"base_url": url}, format="json"), "base_url")
    assert Provider.objects.get(slug="evil").base_url == "https://api.example/v1"


def test_the_provider_form_names_base_url(members, client_for, dns):
    form = {"name": "Evil", "slug": "evil", "kind": "openai", "base_url": "http://169.254.169.254/", "api_key": "k"}
    response = client_for(members[Role.ADMIN].user).post("/providers/", form)
    assert response.status_code == 400
    assert "internal address" in response.context["form"].errors["base_url"][0]
    assert not Provider.objects.exists()


def test_a_tenant_admin_cannot_make_a_provider_trusted(admin_api, dns):
    body = {"slug": "evil", "name": "E", "kind": "openai", "base_url": "http://127.0.0.1:8000/v1", "trusted": True}
    assert_field_error(admin_api.post(PROVIDERS, body, format="json"), "base_url")
    assert _create(admin_api, "https://api.example/v1").json()["trusted"] is False


@pytest.mark.parametrize("allowed", [["127.0.0.0/8"], ["inside.example"]])
def test_the_operators_allow_list_opens_internal_addresses(admin_api, dns, settings, upstream, allowed):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = allowed
    base_url = f"http://inside.example:{_port(upstream)}/v1"
    assert _create(admin_api, base_url).status_code == 201
    assert admin_api.post(f"{PROVIDERS}evil/test/").json()["ok"] is True


def _assert_refused(admin_api, upstream, slug: str = "evil") -> None:
    """Test and sync are refused, naming the provider but not the address, and nothing reached the upstream."""
    tested = admin_api.post(f"{PROVIDERS}{slug}/test/")
    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert f"Provider {slug!r} may not connect to an internal address" in tested.json()["message"]
    synced = admin_api.post(f"{PROVIDERS}{slug}/sync-models/")
    assert synced.status_code == 502
    assert f"{slug!r}" in synced.json()["message"]
    for response in (tested, synced):
        assert "127.0.0.1" not in response.content.decode()
    assert not ProviderModel.objects.exists()
    assert upstream.requests == []


def test_a_name_that_rebinds_to_loopback_after_the_save_gets_no_connection(admin_api, dns, upstream):
    dns.answer("rebind.example", PUBLIC, "127.0.0.1")
    assert _create(admin_api, f"http://rebind.example:{_port(upstream)}/v1").status_code == 201
    _assert_refused(admin_api, upstream)
    assert dns.lookups["rebind.example"] >= 3  # at the save, then when each call connected


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "localhost.", "0.0.0.0", "[::ffff:127.0.0.1]"])  # noqa: S104
def test_an_internal_address_saved_earlier_gets_no_connection(admin_api, tenant, upstream, host):
    # Saved while the operator allowed it (or before the rule existed), then the allow-list changed.
    ProviderFactory(tenant=tenant, slug="evil", kind="openai", base_url=f"http://{host}:{_port(upstream)}/v1")
    _assert_refused(admin_api, upstream)


class Redirector:
    """A provider that answers every request with a 307 to `location` (a real HTTP server on 127.0.0.1)."""

    def __init__(self, location: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.mark.parametrize(
    ("target", "also_allowed", "refused"),
    [
        ("127.0.0.1", [], True),
        ("localhost", [], True),
        ("inside.example", [], True),
        ("127.0.0.1", ["127.0.0.1"], False),  # the same redirect, allowed by the operator
    ],
)
def test_a_redirect_into_the_portals_network_is_not_followed(
    admin_api, dns, settings, upstream, target, also_allowed, refused
):
    dns.answer("hop.example", "127.0.0.1")
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["hop.example", *also_allowed]  # an internal host the operator allows
    hop = Redirector(f"http://{target}:{_port(upstream)}/v1/models")
    try:
        assert _create(admin_api, f"http://hop.example:{hop.port}/v1").status_code == 201
        tested = admin_api.post(f"{PROVIDERS}evil/test/").json()
    finally:
        hop.close()
    assert hop.hits == 1
    assert ("Provider 'evil' may not connect to an internal address" in tested["message"]) is refused
    # Allowed, the redirect is followed (aiohttp drops the credential on the way: the upstream answers 401).
    assert [request.path for request in upstream.requests] == ([] if refused else ["/v1/models"])


def test_a_base_url_with_credentials_saved_earlier_fails_cleanly(admin_api, tenant, fake_upstream):
    base_url = fake_upstream.base_url.replace("http://", "http://user:pass@")
    ProviderFactory(tenant=tenant, slug="creds", kind="openai", base_url=base_url)
    tested = admin_api.post(f"{PROVIDERS}creds/test/")
    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert "Remove the user name and password" in tested.json()["message"]
    assert admin_api.post(f"{PROVIDERS}creds/sync-models/").status_code == 502
    assert fake_upstream.requests == []


def _route_for(provider: Provider) -> str:
    """Route `smart` of the provider's tenant served by it; returns an app key's secret."""
    model = model_create(provider=provider, actor_membership=None, name="m", upstream_id="gpt-4o-mini")
    route = route_create(tenant=provider.tenant, actor_membership=None, alias="smart")
    deployment_add(route=route, model=model, actor_membership=None)
    _, secret = api_key_issue(app=AppFactory(tenant=provider.tenant), name="k", actor_membership=None)
    refresh_snapshot()
    return secret


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", ["rebinding", "credentials"])
def test_v1_answers_502_naming_the_provider_never_the_address(
    admin_api,
    tenant,
    dns,
    upstream,
    live_gateway,  # noqa: F811 (the fixture imported above)
    stream,
    case,
):
    if case == "rebinding":
        dns.answer("rebind.example", PUBLIC, "127.0.0.1")
        assert _create(admin_api, f"http://rebind.example:{_port(upstream)}/v1").status_code == 201
        provider = Provider.objects.get(slug="evil")
    else:
        base_url = upstream.base_url.replace("http://", "http://u:p@")
        provider = ProviderFactory(tenant=tenant, slug="evil", kind="openai", base_url=base_url)  # saved earlier
    secret = _route_for(provider)
    body = {"model": "smart", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    response = httpx.post(
        f"{live_gateway}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert "'evil'" in error["message"]
    assert "127.0.0.1" not in response.text
    assert upstream.requests == []
