"""When a sync starts by itself: after a definition is saved (debounced: edits made within
GITOPS_SYNC_DEBOUNCE_SECONDS reach GitLab as one commit) and on the beat schedule.

A saved definition is noticed through the audit trail, which every write service of the definition apps feeds:
one receiver here instead of a call in each of those services (the apps below gitops never import it)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from apps.gitops.models import GitLabConnection, GitRemote, SyncRun

# The audit object types (app label, or app.model) whose changes the definition files hold.
DEFINITION_TYPES = ("catalog.", "prompts.", "providers.", "tenants.tenant")
_inbound = contextvars.ContextVar("gitops_inbound_apply", default=False)


def pending_key(tenant_id: int) -> str:
    return f"gitops:sync-pending:{tenant_id}"


@contextmanager
def applying_inbound() -> Iterator[None]:
    """Changes applied from GitLab itself: they are already in the repository, no sync back."""
    token = _inbound.set(True)
    try:
        yield
    finally:
        _inbound.reset(token)


def on_audit_event(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """post_save of core.AuditEvent: a definition of a connected tenant changed, so a sync is requested once the
    change commits."""
    if not created or instance.tenant_id is None or _inbound.get():
        return
    if not instance.object_type.startswith(DEFINITION_TYPES):
        return
    transaction.on_commit(partial(sync_request, tenant_id=instance.tenant_id), robust=True)


def sync_request(*, tenant_id: int) -> bool:
    """Queue one sync of the tenant in GITOPS_SYNC_DEBOUNCE_SECONDS unless one is already waiting (the task clears
    the mark when it starts, so a later edit queues the next). False when nothing was queued."""
    from apps.gitops.tasks import sync_out_task  # tasks import services: import the task when first needed

    if not (
        GitLabConnection.objects.filter(tenant_id=tenant_id, enabled=True).exists()
        or GitRemote.objects.filter(tenant_id=tenant_id, enabled=True).exists()
    ):
        return False
    delay = settings.GITOPS_SYNC_DEBOUNCE_SECONDS
    if not cache.add(pending_key(tenant_id), 1, timeout=max(delay * 6, 60)):
        return False
    sync_out_task.apply_async(args=[tenant_id, SyncRun.Trigger.SAVE], countdown=delay)
    return True
