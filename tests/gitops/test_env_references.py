"""`env:` references survive a round trip: a provider applied from a file with `api_key: env:VARIABLE` (or a
credential header given as one) exports with the same reference, so the outbound sync leaves the repository's file
alone; once the secret is changed in the portal, the export names the stored credential instead."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.gitops.models import SecretReference, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_outbound import sync_out
from apps.providers import services as providers
from apps.providers.models import Provider
from tests.gitops.gitlab_fixtures import WEBHOOK_SECRET
from tests.gitops.helpers import edit, gitops

pytestmark = pytest.mark.django_db
LOCAL = "definitions/providers/local.yaml"
KEY, HEADER = "sk-from-the-ci-variable-000001", "Bearer from-the-ci-variable"


@pytest.fixture
def variables(monkeypatch):
    monkeypatch.setenv("GITOPS_TEST_KEY", KEY)
    monkeypatch.setenv("GITOPS_TEST_HEADER", HEADER)


def _with_references(text: str) -> str:
    text = text.replace("api_key: null", "api_key: env:GITOPS_TEST_KEY")
    indent = text.split("X-Team: ml")[0].rsplit("\n", 1)[1]
    return text.replace("X-Team: ml", f"Authorization: env:GITOPS_TEST_HEADER\n{indent}X-Team: ml")


def test_a_file_with_env_references_exports_as_the_same_text(rich_tenant, tmp_path, variables):
    assert gitops("export", str(tmp_path), "--tenant", "rich")[0] == 0
    path = tmp_path / "providers/local.yaml"
    path.write_text(_with_references(path.read_text()))
    applied = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert gitops("apply", str(tmp_path))[0] == 0
    local = Provider.objects.get(slug="local")
    assert (local.api_key(), local.options["headers"]["Authorization"]) == (KEY, HEADER)

    assert definitions_export(tenant=rich_tenant) == applied
    assert gitops("plan", str(tmp_path))[0] == 0
    # What is kept is the reference and a keyed fingerprint, never the value.
    kept = SecretReference.objects.filter(provider=local).values_list("field", "reference", "fingerprint")
    assert {(field, reference) for field, reference, _ in kept} == {
        ("api_key", "env:GITOPS_TEST_KEY"),
        ("options.headers.Authorization", "env:GITOPS_TEST_HEADER"),
    }
    assert not any(KEY in fingerprint or "ci-variable" in fingerprint for _, _, fingerprint in kept)


def test_a_secret_changed_in_the_portal_exports_as_the_stored_credential(rich_tenant, tmp_path, variables):
    gitops("export", str(tmp_path), "--tenant", "rich")
    path = tmp_path / "providers/local.yaml"
    path.write_text(_with_references(path.read_text()))
    assert gitops("apply", str(tmp_path))[0] == 0

    providers.provider_update(
        provider=Provider.objects.get(slug="local"), actor_membership=None, data={"api_key": "sk-typed-in-the-portal-9"}
    )

    text = definitions_export(tenant=rich_tenant)["providers/local.yaml"]
    assert "api_key: credential:local" in text
    assert "Authorization: env:GITOPS_TEST_HEADER" in text  # that header still holds the variable's value
    assert "sk-typed" not in text


def test_a_file_naming_a_stored_credential_again_forgets_the_reference(rich_tenant, tmp_path, variables):
    gitops("export", str(tmp_path), "--tenant", "rich")
    edit(tmp_path, "providers/local.yaml", "api_key: null", "api_key: env:GITOPS_TEST_KEY")
    assert gitops("apply", str(tmp_path))[0] == 0
    edit(tmp_path, "providers/local.yaml", "api_key: env:GITOPS_TEST_KEY", "api_key: credential:local")

    assert gitops("apply", str(tmp_path))[0] == 0

    assert not SecretReference.objects.exists()
    assert "api_key: credential:local" in definitions_export(tenant=rich_tenant)["providers/local.yaml"]


def test_a_pushed_env_reference_is_applied_and_the_next_sync_commits_nothing(
    fake_gitlab, synced_tenant, variables, django_capture_on_commit_callbacks
):
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    before = fake_gitlab.branches["main"]
    fake_gitlab.seed({LOCAL: _with_references(fake_gitlab.files()[LOCAL])}, message="Keys from CI variables")
    after = fake_gitlab.branches["main"]

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(
            "/api/v1/gitops/gitlab/webhook",
            fake_gitlab.push_event(before, after),
            format="json",
            HTTP_X_GITLAB_TOKEN=WEBHOOK_SECRET,
            HTTP_X_GITLAB_EVENT="Push Hook",
        )
    assert response.status_code == 202, response.content
    assert Provider.objects.get(tenant=synced_tenant, slug="local").api_key() == KEY

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert run.status == SyncRun.Status.UNCHANGED
    assert fake_gitlab.branches["main"] == after
    assert "api_key: env:GITOPS_TEST_KEY" in fake_gitlab.files()[LOCAL]
