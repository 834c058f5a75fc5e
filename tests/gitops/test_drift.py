"""The drift banner: a Celery task (beat, and after each sync or push) compares the database with the GitLab
branch and stores what differs on the connection; every page of the tenant shows it from that row, never asking
GitLab on a page view."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services.sync_outbound import sync_out
from apps.gitops.tasks import drift_scheduled, sync_out_task
from apps.providers.models import Route
from apps.tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
CHEAP = "definitions/routes/cheap.yaml"


def _login(client, tenant, role):
    client.force_login(MembershipFactory(tenant=tenant, role=role, user=UserFactory()).user)
    return client


@pytest.fixture
def drifted(fake_gitlab, synced_tenant):
    """Synced, then the cheap route edited in GitLab, a stray file pushed there, and a route edited here."""
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    fake_gitlab.seed(
        {CHEAP: fake_gitlab.files()[CHEAP] + "# edited in GitLab\n", "definitions/routes/x.yaml": "a: 1\n"}
    )
    Route.objects.filter(tenant=synced_tenant, alias="team/smart").update(description="edited here")
    return synced_tenant


def test_the_beat_task_stores_the_drift_and_every_page_shows_it_without_asking_gitlab(fake_gitlab, drifted, client):
    assert settings.CELERY_BEAT_SCHEDULE["gitops-drift-scheduled"]["task"] == "gitops.drift_scheduled"
    assert drift_scheduled() == 1

    connection = GitLabConnection.objects.get(tenant=drifted)
    assert sorted(connection.drift, key=lambda item: item["path"]) == [
        {"action": "update", "path": CHEAP},
        {"action": "update", "path": "definitions/routes/team%2Fsmart.yaml"},
        {"action": "delete", "path": "definitions/routes/x.yaml"},
    ]
    assert connection.drift_checked_at is not None
    seen = len(fake_gitlab.requests)
    admin = _login(client, drifted, Role.ADMIN)
    for url in ("/", "/routes/", "/catalog/"):
        html = admin.get(url).content.decode()
        banner = html.split('id="gitops-drift"')[1].split("</aside>")[0]
        assert "The portal and GitLab differ</strong> (3 files)" in banner
        assert "<li>route cheap: changed</li>" in banner
        assert "<li>route team/smart: changed</li>" in banner
        assert "<li>route x: only in GitLab</li>" in banner
        assert 'href="/tenant/gitlab/"' in banner
    assert len(fake_gitlab.requests) == seen  # the pages read the stored check only


def test_a_developer_sees_the_banner_without_the_admins_link_and_other_tenants_see_nothing(drifted, client):
    drift_scheduled()
    html = _login(client, drifted, Role.DEVELOPER).get("/").content.decode()
    assert "The portal and GitLab differ" in html
    assert 'href="/tenant/gitlab/"' not in html.split('id="gitops-drift"')[1].split("</aside>")[0]

    other = TenantFactory(slug="elsewhere")
    assert "gitops-drift" not in _login(client, other, Role.OWNER).get("/").content.decode()


def test_a_sync_clears_the_banner(fake_gitlab, drifted, client):
    drift_scheduled()
    sync_out_task.delay(drifted.pk, SyncRun.Trigger.MANUAL)  # the task checks the drift once it has pushed

    assert GitLabConnection.objects.get(tenant=drifted).drift == []
    assert "gitops-drift" not in _login(client, drifted, Role.ADMIN).get("/").content.decode()


def test_a_check_gitlab_refuses_keeps_the_last_drift_and_stores_the_error(fake_gitlab, drifted):
    drift_scheduled()
    fake_gitlab.script("status:401")

    drift_scheduled()

    connection = GitLabConnection.objects.get(tenant=drifted)
    assert "GitLab refused the access token (401 Unauthorized)" in connection.drift_error
    assert len(connection.drift) == 3


def test_no_banner_without_a_connection_or_without_a_difference(fake_gitlab, synced_tenant, tenant, members, client):
    assert "gitops-drift" not in _login(client, tenant, Role.OWNER).get("/").content.decode()
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    drift_scheduled()
    assert GitLabConnection.objects.get(tenant=synced_tenant).drift == []
    assert "gitops-drift" not in _login(client, synced_tenant, Role.OWNER).get("/").content.decode()
