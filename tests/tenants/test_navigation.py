"""The main navigation: the sections grouped as Discover, Build, Operate and Govern, each link for the roles that
may open its page, the current section marked, a section whose app is not installed left out, inline SVG icons
(no emoji), and the bell and the tenant switcher on every page."""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import include, path

from apps.core.templatetags.navigation import first_url, navigation_groups
from apps.tenants.models import Role
from portal import urls as portal_urls
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def _labels(membership, view_name: str = "") -> dict[str, list[str]]:
    return {
        group["label"]: [link["label"] for link in group["links"]]
        for group in navigation_groups(membership=membership, view_name=view_name)
    }


class _Urlconf:
    """A URL configuration as Django takes one: an object with `urlpatterns` (hashable, unlike a namespace)."""

    def __init__(self, urlpatterns: list) -> None:
        self.urlpatterns = urlpatterns


def _urlconf(*, prompts: bool) -> _Urlconf:
    """The portal's URLs with or without a prompt workbench (a page named prompts:prompt-list)."""
    patterns = [pattern for pattern in portal_urls.urlpatterns if getattr(pattern, "namespace", None) != "prompts"]
    if prompts:
        workbench = [path("", lambda request: HttpResponse("prompts"), name="prompt-list")]
        patterns.append(path("prompts/", include((workbench, "prompts"))))
    return _Urlconf(patterns)


@override_settings(ROOT_URLCONF=_urlconf(prompts=True))
def test_sections_are_grouped_and_each_role_sees_what_it_may_open(members):
    build = ["Apps", "Subscriptions", "Services", "Prompts"]
    operate = ["Providers", "Models", "Routes", "Analytics", "Alerts"]
    assert _labels(members[Role.OWNER]) == {
        "Discover": ["Catalog"],
        "Build": build,
        "Operate": operate,
        "Govern": ["Approvals", "Members", "Audit", "GitLab", "Settings"],
    }
    assert _labels(members[Role.ADMIN])["Govern"] == ["Approvals", "Members", "Audit", "GitLab"]
    for role in (Role.DEVELOPER, Role.VIEWER):
        assert _labels(members[role]) == {"Discover": ["Catalog"], "Build": build, "Operate": operate}


def test_a_person_in_no_tenant_gets_no_sections():
    assert navigation_groups(membership=None, view_name="access:home") == []


@pytest.mark.parametrize(("prompts", "shown"), [(True, True), (False, False)])
def test_prompts_appear_once_the_workbench_serves_its_list(client_for, members, prompts, shown):
    with override_settings(ROOT_URLCONF=_urlconf(prompts=prompts)):
        html = client_for(members[Role.DEVELOPER].user).get("/").content.decode()
    assert ('href="/prompts/"' in html) is shown
    assert (">Prompts</a>" in html) is shown


def test_a_link_takes_the_first_of_its_pages_that_exists():
    assert first_url("prompts:no-such-page", "catalog:service-list") == "/catalog/"
    assert first_url("nothing:here") is None
    assert first_url("prompts:no-such-page", "catalog:service-detail", slug="summarize") == "/catalog/summarize/"


@pytest.mark.parametrize(
    ("url", "current"),
    [
        ("/routes/", "Routes"),
        ("/catalog/", "Catalog"),
        ("/apps/billing-bot/", "Apps"),
        ("/tenant/gitlab/", "GitLab"),
        ("/", "Home"),
    ],
)
def test_the_current_section_is_marked(client_for, owner, app, url, current):
    html = client_for(owner).get(url).content.decode()
    marked = re.findall(r'aria-current="page">(?:<svg.*?</svg>)?([^<]+)</a>', html)
    assert marked == [current]


def test_icons_are_inline_svg_and_no_page_needs_an_emoji_font(client_for, owner, app):
    for url in ("/", "/apps/", "/notifications/", "/audit/"):
        html = client_for(owner).get(url).content.decode()
        assert not EMOJI.search(html), url
    bell = client_for(owner).get("/").content.decode().split('id="notification-bell"')[1].split("</a>")[0]
    assert '<svg class="icon"' in bell
    assert 'aria-label="Notifications: 0 unread"' in bell


def test_the_bell_and_the_tenant_switcher_are_on_every_page(client_for, owner, other_tenant, app):
    MembershipFactory(user=owner, tenant=other_tenant, role=Role.VIEWER)
    for url in ("/", "/apps/billing-bot/", "/catalog/", "/analytics/", "/members/", "/account/tokens/"):
        html = client_for(owner).get(url).content.decode()
        assert 'id="notification-bell"' in html, url
        assert 'aria-label="Tenant you are working in"' in html, url


def test_the_menu_button_controls_the_grouped_menu(client_for, owner):
    html = client_for(owner).get("/").content.decode()
    assert 'aria-controls="nav-menu" aria-expanded="false"' in html
    assert 'id="nav-menu"' in html
    assert '<script src="/static/js/layout.js"></script>' in html  # folds the menu before the first paint
