"""The one seam of GitOps mode in the web UI: the hook around the views marked @definition_edit (apps.core.edits).

For a tenant in GitOps mode, a POST runs its view inside a transaction that is rolled back (the writes, their
audit entries and the configuration-version bump with them); the export of the tenant before and after the view
becomes a merge request (services/proposal.py), and the page says so instead of "saved". A POST that changes no
definition file (a refused form, a field the files do not hold) commits as usual."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from apps.core.errors import ApplicationError
from apps.core.web import redirect_after_action
from apps.gitops.services import definitions_export
from apps.gitops.services.proposal import gitops_mode_connection, proposal_open


def _back(request: HttpRequest, response: HttpResponse) -> str:
    """Where the person goes next: where the view sent them, else the page they were on (the rolled-back edit is
    not shown as if saved)."""
    if response.status_code in (301, 302, 303) and response.has_header("Location"):
        return response["Location"]
    if response.has_header("HX-Redirect"):
        return response["HX-Redirect"]
    current = request.headers.get("HX-Current-URL") or request.headers.get("Referer") or ""
    if current and url_has_allowed_host_and_scheme(current, {request.get_host()}, require_https=request.is_secure()):
        return current
    return request.path


def proposed_in_gitops_mode(request: HttpRequest, view: Callable[[], HttpResponse]) -> HttpResponse:
    """The hook of apps.core.edits.definition_edit (installed by GitopsConfig.ready): in GitOps mode, the edit
    `view` makes becomes a merge request."""
    connection = gitops_mode_connection(tenant=request.tenant) if request.method == "POST" else None
    if connection is None:
        return view()
    storage = messages.get_messages(request)
    queued = len(storage._queued_messages)  # the view's own "saved" messages, dropped below
    with transaction.atomic():
        before = definitions_export(tenant=request.tenant)
        response = view()
        after = definitions_export(tenant=request.tenant)
        if after == before:
            return response
        transaction.set_rollback(True)
    del storage._queued_messages[queued:]
    author = request.user.get_full_name() or request.user.get_username()
    try:
        proposal = proposal_open(connection=connection, before=before, after=after, author=author, page=request.path)
    except ApplicationError as exc:
        messages.error(request, f"Your change is not saved: {exc.message}")
    else:
        notice = 'Your change is proposed in merge request <a href="{}">!{}</a>: it applies once merged.'
        messages.success(request, format_html(notice, proposal.url, proposal.iid))
    return redirect_after_action(request, _back(request, response))
