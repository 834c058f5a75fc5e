"""The drift banner of the base layout: what differs between the tenant's database and its GitLab branch, read
from the last stored check (one indexed row; GitLab is never called on a page view)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.gitops.services.drift import stored_drift
from apps.tenants.models import Role

register = template.Library()
SHOWN = 5  # items listed; the GitLab page lists the rest


@register.inclusion_tag("gitops/_drift_banner.html", takes_context=True)
def drift_banner(context: template.Context) -> dict[str, Any]:
    tenant, membership = context.get("current_tenant"), context.get("current_membership")
    if tenant is None or membership is None:
        return {"drift": []}
    drift = stored_drift(tenant=tenant)
    return {
        "drift": drift[:SHOWN],
        "more": max(len(drift) - SHOWN, 0),
        "total": len(drift),
        "may_open": membership.has_role(Role.ADMIN),
    }
