"""Syncs that start by themselves: a definition saved in the web UI or through a service reaches GitLab as one
commit; edits within the debounce window are gathered into one commit by a real Celery worker on Redis."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.access.services import api_key_issue
from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_connection import gitlab_connection_set
from apps.gitops.services.sync_outbound import sync_out
from apps.gitops.services.sync_trigger import sync_request
from apps.gitops.tasks import sync_out_task, sync_scheduled
from apps.providers import services as providers
from apps.providers.models import Route
from apps.tenants.models import Role
from portal.celery import app as celery_app
from tests.celery_workers import celery_worker_pool, wait_until
from tests.factories import AppFactory, MembershipFactory, UserFactory
from tests.gitops.conftest import build_rich_tenant


def _in_repo(fake):
    return {p.removeprefix("definitions/"): t for p, t in fake.files().items() if p.startswith("definitions/")}


@pytest.fixture
def in_sync(fake_gitlab, synced_tenant):
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    return len(fake_gitlab.commits)


@pytest.mark.django_db
def test_a_change_made_in_the_web_ui_reaches_gitlab_as_one_commit(
    fake_gitlab, synced_tenant, in_sync, client, django_capture_on_commit_callbacks
):
    admin = MembershipFactory(tenant=synced_tenant, role=Role.ADMIN, user=UserFactory(username="rich-admin")).user
    client.force_login(admin)
    form = {"description": "Edited in the UI", "deadline_seconds": "45", "retries": "4", "enabled": "on"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/routes/cheap/", form)

    assert response.status_code == 302
    assert len(fake_gitlab.commits) == in_sync + 1
    commit = fake_gitlab.commits_on("main")[0]
    assert commit.changes == {"definitions/routes/cheap.yaml": "modified"}
    assert "Edited in the UI" in fake_gitlab.files()["definitions/routes/cheap.yaml"]
    run = SyncRun.objects.get(commit_sha=commit.id)
    assert run.trigger == SyncRun.Trigger.SAVE


@pytest.mark.django_db
def test_several_edits_in_one_transaction_make_one_commit(
    fake_gitlab, synced_tenant, in_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        route = Route.objects.get(tenant=synced_tenant, alias="cheap")
        providers.route_update(route=route, actor_membership=None, data={"description": "one"})
        providers.route_create(tenant=synced_tenant, actor_membership=None, alias="two")
        providers.route_create(tenant=synced_tenant, actor_membership=None, alias="three")

    assert len(fake_gitlab.commits) == in_sync + 1
    assert set(fake_gitlab.commits_on("main")[0].changes) == {
        "definitions/routes/cheap.yaml",
        "definitions/routes/two.yaml",
        "definitions/routes/three.yaml",
    }
    # The later requests found nothing to do and left no history rows.
    assert SyncRun.objects.filter(trigger=SyncRun.Trigger.SAVE).count() == 1


@pytest.mark.django_db
def test_no_sync_for_a_disabled_connection_or_a_change_outside_the_definitions(
    fake_gitlab, synced_tenant, in_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api_key_issue(app=AppFactory(tenant=synced_tenant), name="ci", actor_membership=None)
    assert not [c for c in callbacks if getattr(c, "func", None) is sync_request]

    GitLabConnection.objects.filter(tenant=synced_tenant).update(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        providers.route_create(tenant=synced_tenant, actor_membership=None, alias="quiet")

    assert len(fake_gitlab.commits) == in_sync


@pytest.mark.django_db
def test_the_schedule_syncs_every_enabled_connection(fake_gitlab, synced_tenant):
    Route.objects.filter(tenant=synced_tenant, alias="cheap").update(description="changed around the services")

    assert sync_scheduled.delay().get() == 1

    assert "changed around the services" in fake_gitlab.files()["definitions/routes/cheap.yaml"]
    assert SyncRun.objects.get().trigger == SyncRun.Trigger.SCHEDULE


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_gathers_edits_within_the_debounce_into_one_commit(fake_gitlab, settings):
    settings.GITOPS_SYNC_DEBOUNCE_SECONDS = 1.5  # the two edits below take milliseconds
    tenant = build_rich_tenant()
    gitlab_connection_set(
        tenant=tenant, gitlab_url=fake_gitlab.url, project=fake_gitlab.project_path, token=fake_gitlab.token
    )
    sync_out(tenant=tenant, trigger=SyncRun.Trigger.MANUAL)
    commits = len(fake_gitlab.commits)
    default_queue = celery_app.conf.task_default_queue
    with celery_worker_pool(GITLAB_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32") as pool:
        celery_app.conf.task_default_queue = pool.queue  # where the save trigger sends its task
        try:
            pool.start()
            assert pool.run(sync_out_task, tenant.pk, SyncRun.Trigger.MANUAL)["status"] == "unchanged"

            route = Route.objects.get(tenant=tenant, alias="cheap")
            providers.route_update(route=route, actor_membership=None, data={"description": "first edit"})
            providers.route_create(tenant=tenant, actor_membership=None, alias="second-edit")

            wait_until(lambda: SyncRun.objects.filter(trigger=SyncRun.Trigger.SAVE).exists(), what="the sync")
        finally:
            celery_app.conf.task_default_queue = default_queue

    run = SyncRun.objects.get(trigger=SyncRun.Trigger.SAVE)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert len(fake_gitlab.commits) == commits + 1
    assert {f["path"] for f in run.files_changed} == {
        "definitions/routes/cheap.yaml",
        "definitions/routes/second-edit.yaml",
    }
    assert _in_repo(fake_gitlab) == definitions_export(tenant=tenant)
