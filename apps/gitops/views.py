"""The GitLab page of a tenant: its connection, a sync on demand, the sync history, and inbound commits waiting
for review. Admins only; writes go through the services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.errors import ApplicationError
from apps.gitops.forms import GitLabConnectionForm
from apps.gitops.models import SyncRun
from apps.gitops.services.drift import drift_check, drift_items
from apps.gitops.services.sync_connection import (
    gitlab_connection_get,
    gitlab_connection_set,
    sync_run_get,
    sync_run_list,
)
from apps.gitops.services.sync_inbound import sync_review_apply
from apps.gitops.tasks import sync_out_task
from apps.tenants.models import Role
from apps.tenants.web import tenant_required


@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def gitlab_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@tenant_required(Role.ADMIN)
@require_GET
def gitlab_drift(request: HttpRequest) -> HttpResponse:
    """The page with what differs between the database and the connected branch (asked of GitLab on demand, and
    stored for the pages' banner)."""
    connection = drift_check(tenant=request.tenant)
    if connection is None:
        return _page(request, drift=None, drift_problem=f"Tenant {request.tenant.slug} has no GitLab connection.")
    if connection.drift_error:
        return _page(request, drift=None, drift_problem=connection.drift_error)
    return _page(request, drift=drift_items(connection))


def _page(request: HttpRequest, **extra: object) -> HttpResponse:
    connection = gitlab_connection_get(tenant=request.tenant)
    initial = {"branch": "main", "directory": "definitions", "enabled": True}
    if connection is not None:
        initial = {
            name: getattr(connection, name)
            for name in ("gitlab_url", "project", "branch", "directory", "review_mode", "gitops_mode", "enabled")
        }
    form = GitLabConnectionForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.submit(gitlab_connection_set, tenant=request.tenant):
        messages.success(request, f"Connected to {form.result}: GitLab accepted the token.")
        return redirect("gitops:gitlab")
    context = {
        "form": form,
        "connection": connection,
        "runs": sync_run_list(tenant=request.tenant),
        "webhook_url": request.build_absolute_uri(reverse("gitops-gitlab-webhook")),
        **extra,
    }
    return render(request, "gitops/gitlab.html", context, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_POST
def gitlab_sync(request: HttpRequest) -> HttpResponse:
    if gitlab_connection_get(tenant=request.tenant) is None:
        messages.error(request, "Connect a GitLab project first.")
    else:
        sync_out_task.delay(request.tenant.pk, SyncRun.Trigger.MANUAL)
        messages.success(request, "Sync started: its outcome appears in the history below.")
    return redirect("gitops:gitlab")


@tenant_required(Role.ADMIN)
@require_POST
def gitlab_review_apply(request: HttpRequest, pk: int) -> HttpResponse:
    run = sync_run_get(tenant=request.tenant, pk=pk)
    if run is None:
        raise Http404("No such sync.")
    try:
        run = sync_review_apply(run=run, actor_user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("gitops:gitlab")
    if run.status == SyncRun.Status.SUCCEEDED:
        messages.success(request, f"Commit {run.commit_sha[:8]} applied.")
    else:
        messages.error(request, f"Commit {run.commit_sha[:8]} was not applied: {run.error}")
    return redirect("gitops:gitlab")
