"""Audit changes as people read them: a changed field as old → new, a recorded fact as its value, lists, empty
values, yes/no and times in words, never Python's repr of a list or a dict."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.core.templatetags.audit_format import change_rows, readable
from apps.tenants.models import Role
from apps.tenants.services import membership_set_role

pytestmark = pytest.mark.django_db


def _change(field: str, old: str, new: str) -> dict:
    return {"field": field, "old": old, "new": new, "is_change": True}


def _value(field: str, value: str) -> dict:
    return {"field": field, "value": value, "is_change": False}


@pytest.mark.parametrize(
    ("action", "changes", "rows"),
    [
        ("membership.change_role", {"role": ["developer", "viewer"]}, [_change("role", "developer", "viewer")]),
        ("membership.add", {"role": [None, "owner"]}, [_change("role", "none", "owner")]),
        ("membership.remove", {"role": ["viewer", None]}, [_change("role", "viewer", "none")]),
        (
            "api_key.issue",
            {"app": "billing-bot", "scopes": ["gateway", "catalog"], "expires_at": None},
            [_value("app", "billing-bot"), _value("scopes", "gateway, catalog"), _value("expires at", "none")],
        ),
        ("app.delete", {"keys": ["gwk_aaa", "gwk_bbb"]}, [_value("keys", "gwk_aaa, gwk_bbb")]),
        ("route.add_deployment", {"model": "echo", "weight": 2}, [_value("model", "echo"), _value("weight", "2")]),
        ("app.grant_manager", {"manager": [None, "dev"]}, [_change("manager", "none", "dev")]),
        (
            "tenant.update",
            {"require_internal_subscriptions": [False, True]},
            [_change("require internal subscriptions", "no", "yes")],
        ),
        ("service.update", {"tags": [["nlp"], ["nlp", "text"]]}, [_change("tags", "nlp", "nlp, text")]),
        ("service.share", {"shared_with": [[], ["globex"]]}, [_change("shared with", "none", "globex")]),
        (
            "prompt.ab_set",
            {"ab_split": [[], [{"version": 1, "weight": 80}, {"version": 2, "weight": 20}]]},
            [_change("ab split", "none", "version: 1, weight: 80; version: 2, weight: 20")],
        ),
        (
            "api_key.revoke",
            {"revoked_at": [None, "2026-03-01 10:15:30.123456+00:00"]},
            [_change("revoked at", "none", "2026-03-01 10:15:30 UTC")],
        ),
        ("alert_rule.delete", {"alerts": 3}, [_value("alerts", "3")]),
        ("subscription.unsubscribe", {"reason": ["", "Unsubscribed."]}, [_change("reason", "none", "Unsubscribed.")]),
        ("login.lockout", {}, []),
    ],
)
def test_each_kind_of_recorded_change_reads_as_words(action, changes, rows):
    assert change_rows(action=action, changes=changes) == rows


def test_long_values_are_cut_and_times_elsewhere_keep_their_offset():
    assert readable("x" * 1000) == "x" * 299 + "…"
    assert readable("2026-03-01T10:15:00+02:00") == "2026-03-01 08:15:00 UTC"
    assert readable("2026-03-01 is a Sunday") == "2026-03-01 is a Sunday"


def test_the_audit_page_shows_a_role_change_as_old_to_new(client_for, members):
    admin = members[Role.ADMIN]
    membership_set_role(membership=members[Role.VIEWER], role=Role.DEVELOPER, actor_membership=admin)
    html = client_for(admin.user).get("/audit/").content.decode()
    assert AuditEvent.objects.get(action="membership.change_role").changes == {"role": ["viewer", "developer"]}
    assert '<del class="change-old">viewer</del>' in html
    assert '<ins class="change-new">developer</ins>' in html
    assert "[&#x27;viewer&#x27;" not in html
    assert "{&#x27;" not in html


def test_the_home_page_shows_admins_the_latest_changes_in_words(client_for, members):
    admin = members[Role.ADMIN]
    membership_set_role(membership=members[Role.VIEWER], role=Role.DEVELOPER, actor_membership=admin)
    html = client_for(admin.user).get("/").content.decode()
    assert "membership.change_role" in html
    assert '<del class="change-old">viewer</del>' in html
