"""The main navigation: the portal's sections in four groups, each link shown to the roles that may open its page.

A link whose URL name does not resolve is left out, so that a section appears by itself once the app that serves
it is installed (the prompt workbench); "Services" opens the tenant's own services where the publishing pages
exist and the catalog otherwise. No query: the membership comes from the context (apps.tenants' processor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@dataclass(frozen=True)
class Link:
    label: str
    url_names: tuple[str, ...]  # the first that resolves is used; none: the link is not shown
    icon: str  # a file of templates/includes/icons/
    current_for: tuple[str, ...]  # view names (or "app:" prefixes ending in "-") of the pages it stands for
    min_role: str = ""  # roles are ranked strings (apps.tenants.models.Role), compared by Membership.has_role


@dataclass(frozen=True)
class Group:
    label: str
    links: tuple[Link, ...]


SERVICE_PAGES = (
    "catalog:own-service-list",
    "catalog:service-create",
    "catalog:service-manage",
    "catalog:service-edit",
    "catalog:service-lifecycle",
    "catalog:plan-",
)
GROUPS = (
    Group(
        "Discover",
        (
            Link(
                "Catalog",
                ("catalog:service-list",),
                "catalog",
                ("catalog:service-list", "catalog:service-detail", "catalog:service-openapi"),
            ),
        ),
    ),
    Group(
        "Build",
        (
            Link("Apps", ("access:app-list",), "apps", ("access:app-", "access:api-key-")),
            Link("Subscriptions", ("access:subscription-list",), "subscriptions", ("access:subscription-list",)),
            Link("Services", ("catalog:own-service-list", "catalog:service-list"), "services", SERVICE_PAGES),
            Link("Prompts", ("prompts:prompt-list",), "prompts", ("prompts:",)),
        ),
    ),
    Group(
        "Operate",
        (
            Link("Providers", ("providers:provider-list",), "providers", ("providers:provider-",)),
            Link("Models", ("providers:model-list",), "models", ("providers:model-",)),
            Link("Routes", ("providers:route-list",), "routes", ("providers:route-", "providers:deployment-")),
            Link("Analytics", ("analytics:dashboard",), "analytics", ("analytics:dashboard", "analytics:call-")),
            Link("Alerts", ("analytics:alert-rule-list",), "alerts", ("analytics:alert-",)),
        ),
    ),
    Group(
        "Govern",
        (
            Link("Approvals", ("access:approval-list",), "approvals", ("access:approval-",), "admin"),
            Link("Members", ("tenants:member-list",), "members", ("tenants:member-",), "admin"),
            Link("Audit", ("tenants:audit-list",), "audit", ("tenants:audit-list",), "admin"),
            Link("GitLab", ("gitops:gitlab",), "settings", ("gitops:",), "admin"),
            Link("Settings", ("tenants:settings",), "settings", ("tenants:settings",), "owner"),
        ),
    ),
)


def url_or_none(name: str, **kwargs: Any) -> str | None:
    """The URL of `name` (with `kwargs`), or None when no installed app serves it."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _is_current(link: Link, view_name: str) -> bool:
    prefixes = (name for name in link.current_for if name.endswith(("-", ":")))
    return view_name in link.current_for or any(view_name.startswith(prefix) for prefix in prefixes)


def navigation_groups(*, membership: Any, view_name: str) -> list[dict[str, Any]]:
    """[{label, links: [{label, url, icon, current}]}] for a member (None: no tenant, no sections)."""
    if membership is None:
        return []
    groups = []
    for group in GROUPS:
        links = []
        for link in group.links:
            if link.min_role and not membership.has_role(link.min_role):
                continue
            url = first_url(*link.url_names)
            if url is not None:
                links.append(
                    {"label": link.label, "url": url, "icon": link.icon, "current": _is_current(link, view_name)}
                )
        if links:
            groups.append({"label": group.label, "slug": group.label.lower(), "links": links})
    return groups


@register.simple_tag(takes_context=True)
def main_navigation(context: template.Context) -> list[dict[str, Any]]:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    return navigation_groups(
        membership=context.get("current_membership"), view_name=(match.view_name if match else "") or ""
    )


@register.simple_tag
def first_url(*names: str, **kwargs: Any) -> str | None:
    """The URL of the first of `names` that an installed app serves, each given the same `kwargs`:
    {% first_url "prompts:prompt-detail" "catalog:service-detail" slug=service.slug as url %}."""
    return next((url for url in (url_or_none(name, **kwargs) for name in names) if url), None)
