"""Provider credentials in files are references, resolved when applied; what apply changes reaches the data plane
(its configuration version moves and a fresh snapshot shows the change)."""

from __future__ import annotations

import pytest

from apps.core.models import ConfigVersion
from apps.gateway.adapters.snapshot_build import snapshot_build
from apps.providers.models import Provider
from tests.gitops.helpers import edit, gitops

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(rich_tenant, tmp_path):
    assert gitops("export", str(tmp_path), "--tenant", "rich")[0] == 0
    return tmp_path


def test_an_env_reference_stores_the_variable_and_plans_no_change_while_it_holds(exported, monkeypatch):
    monkeypatch.setenv("GITOPS_TEST_KEY", "sk-from-the-environment-0001")
    edit(exported, "providers/local.yaml", "api_key: null", "api_key: env:GITOPS_TEST_KEY")

    assert gitops("apply", str(exported))[0] == 0
    provider = Provider.objects.get(slug="local")
    assert provider.api_key() == "sk-from-the-environment-0001"
    assert gitops("plan", str(exported))[0] == 0  # the stored key is the variable's value

    monkeypatch.setenv("GITOPS_TEST_KEY", "sk-rotated-in-the-environment-2")
    code, out, _ = gitops("plan", str(exported))
    assert code == 2
    assert "+api_key: env:GITOPS_TEST_KEY" in out
    assert "sk-" not in out  # a plan never shows a secret
    assert gitops("apply", str(exported))[0] == 0
    assert Provider.objects.get(slug="local").api_key() == "sk-rotated-in-the-environment-2"

    gitops("export", str(exported), "--tenant", "rich")
    text = (exported / "providers/local.yaml").read_text()
    assert "api_key: env:GITOPS_TEST_KEY" in text  # the file's own reference is kept, never the key
    assert "sk-" not in text


def test_a_credential_reference_reuses_another_providers_stored_key(exported):
    echo = Provider.objects.get(slug="echo")
    echo.set_api_key("sk-stored-in-the-portal-00001")
    echo.save()
    edit(exported, "providers/echo.yaml", "api_key: null", "api_key: credential:echo")
    edit(exported, "providers/local.yaml", "api_key: null", "api_key: credential:echo")

    code, out, _ = gitops("plan", str(exported))
    assert code == 2
    assert "~ update Provider local" in out
    assert "Provider echo" not in out  # its own stored key: unchanged

    assert gitops("apply", str(exported))[0] == 0
    assert Provider.objects.get(slug="local").api_key() == "sk-stored-in-the-portal-00001"


def test_a_credential_reference_to_nothing_stored_is_refused(exported):
    edit(exported, "providers/local.yaml", "api_key: null", "api_key: credential:echo")

    code, _, err = gitops("apply", str(exported))

    assert code == 1
    assert "providers/local.yaml: api_key: no credential is stored in the portal for provider 'echo'" in err


@pytest.mark.django_db(transaction=True)  # the snapshot reads in a transaction of its own
def test_applied_changes_reach_the_data_plane(exported, rich_tenant):
    version = ConfigVersion.objects.get(name="gateway").version
    edit(exported, "routes/team%2Fsmart.yaml", "deadline_seconds: 120.0", "deadline_seconds: 30.0")

    assert gitops("apply", str(exported))[0] == 0

    assert ConfigVersion.objects.get(name="gateway").version > version
    route = snapshot_build().routes[rich_tenant.pk, "team/smart"]
    assert route.deadline == 30.0


def test_credential_headers_are_exported_as_references_and_kept_or_replaced(rich_tenant, tmp_path, monkeypatch):
    local = Provider.objects.get(slug="local")
    local.options = {"headers": {"X-Team": "ml", "Authorization": "Bearer secret-of-the-portal"}}
    local.save()
    assert gitops("export", str(tmp_path), "--tenant", "rich")[0] == 0
    text = (tmp_path / "providers/local.yaml").read_text()
    assert "Authorization: credential:local" in text
    assert "secret-of-the-portal" not in "".join(p.read_text() for p in tmp_path.rglob("*.yaml"))

    assert gitops("plan", str(tmp_path))[0] == 0
    edit(tmp_path, "providers/local.yaml", "X-Team: ml", "X-Team: search")
    assert gitops("apply", str(tmp_path))[0] == 0
    assert Provider.objects.get(slug="local").options["headers"] == {
        "X-Team": "search",
        "Authorization": "Bearer secret-of-the-portal",
    }

    monkeypatch.setenv("GITOPS_TEST_HEADER", "Bearer from-the-environment")
    edit(tmp_path, "providers/local.yaml", "Authorization: credential:local", "Authorization: env:GITOPS_TEST_HEADER")
    assert gitops("plan", str(tmp_path))[0] == 2
    assert gitops("apply", str(tmp_path))[0] == 0
    assert Provider.objects.get(slug="local").options["headers"]["Authorization"] == "Bearer from-the-environment"
    assert gitops("plan", str(tmp_path))[0] == 0
