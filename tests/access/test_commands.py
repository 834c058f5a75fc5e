"""Management commands: create_api_key (the secret alone on stdout, for scripts) and seed_demo (idempotent)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.access.models import ApiKey, App
from apps.access.selectors import api_key_authenticate
from apps.core.models import AuditEvent
from apps.tenants.models import Membership, Role, Tenant

pytestmark = pytest.mark.django_db


def create_api_key(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_only_the_secret_which_authenticates(app):
    out, err = create_api_key("--tenant", "acme", "--app", "billing-bot")
    assert out.endswith("\n")
    assert len(out.splitlines()) == 1
    secret = out.strip()
    key = api_key_authenticate(plaintext=secret)
    assert key is not None
    assert (key.app, key.name, key.created_by) == (app, "cli", None)
    assert err == ""


def test_the_key_issue_is_audited_as_cli(app):
    create_api_key("--tenant", "acme", "--app", "billing-bot")
    event = AuditEvent.objects.get(action="api_key.issue")
    assert (event.source, event.actor_label, event.tenant) == ("cli", "manage.py create_api_key", app.tenant)


def test_name_and_scope_options_are_applied(app):
    out, _ = create_api_key("--tenant", "acme", "--app", "billing-bot", "--name", "deploy bot", "--scope", "catalog")
    key = api_key_authenticate(plaintext=out.strip())
    assert (key.name, key.scopes) == ("deploy bot", ["catalog"])


def test_create_app_creates_a_missing_app(tenant, members):
    out, _ = create_api_key("--tenant", "acme", "--app", "cli-made", "--create-app")
    app = App.objects.get(tenant=tenant, slug="cli-made")
    assert api_key_authenticate(plaintext=out.strip()).app == app
    assert app.created_by == members[Role.OWNER].user


def test_a_missing_app_without_create_app_is_an_error_and_writes_nothing(tenant, members):
    with pytest.raises(CommandError, match="--create-app"):
        create_api_key("--tenant", "acme", "--app", "nope")
    assert not App.objects.exists()
    assert not ApiKey.objects.exists()


def test_an_unknown_tenant_is_an_error(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        create_api_key("--tenant", "nope", "--app", "x", "--create-app")
    assert not App.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "Bad Slug", "--create-app"], "slug"),
        (["--app", "billing-bot", "--name", "  "], "name"),
    ],
)
def test_bad_values_are_command_errors_not_tracebacks(app, args, message):
    with pytest.raises(CommandError, match=message):
        create_api_key("--tenant", "acme", *args)
    assert not ApiKey.objects.exists()
    assert list(App.objects.values_list("slug", flat=True)) == ["billing-bot"]


def _counts() -> dict[str, int]:
    models = [get_user_model(), Tenant, Membership, App, AuditEvent]
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_is_idempotent(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    call_command("seed_demo", stdout=StringIO())
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first
    assert set(Tenant.objects.values_list("slug", flat=True)) == {"demo", "globex"}
    roles = dict(Membership.objects.filter(tenant__slug="demo").values_list("user__username", "role"))
    assert {roles["olivia"], roles["adam"], roles["dev"], roles["vic"]} == set(Role.values)
    assert Membership.objects.get(tenant__slug="globex", user__username="grace").role == Role.OWNER
    assert App.objects.filter(tenant__slug="demo", slug="demo-app").exists()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password("demo-password-for-tests")
