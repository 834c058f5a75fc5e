"""The subscription workflow at the service layer: who may request and decide, the state machine, time boxes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.access.models import Subscription, SubscriptionStatus
from apps.access.selectors import subscription_list_active
from apps.access.services import (
    subscription_approve,
    subscription_reject,
    subscription_renew,
    subscription_request,
    subscription_resume,
    subscription_revoke,
    subscription_suspend,
)
from apps.catalog.models import ApprovalMode, Lifecycle, Visibility
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, PlanFactory, ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db

S = SubscriptionStatus
TRANSITIONS = {
    "approve": (subscription_approve, {}),
    "reject": (subscription_reject, {"reason": "Out of scope"}),
    "suspend": (subscription_suspend, {"reason": "Abuse"}),
    "resume": (subscription_resume, {}),
    "revoke": (subscription_revoke, {"reason": "Contract ended"}),
    "renew": (subscription_renew, {"days": 30}),
}
# transition → {state it may start from: state it ends in}; every other pair is a 409.
ALLOWED = {
    "approve": {S.PENDING: S.APPROVED},
    "reject": {S.PENDING: S.REJECTED},
    "suspend": {S.APPROVED: S.SUSPENDED},
    "resume": {S.SUSPENDED: S.APPROVED},
    "revoke": {S.APPROVED: S.REVOKED, S.SUSPENDED: S.REVOKED},
    "renew": {S.APPROVED: S.APPROVED},
}


def _request(requester, app, service, plan, purpose="Translate support tickets"):
    return subscription_request(app=app, service=service, plan=plan, purpose=purpose, actor_membership=requester)


def test_a_request_to_a_manual_service_waits_for_approval(requester, other_app, service, plan, mallory):
    subscription = _request(requester, other_app, service, plan)
    assert (subscription.status, subscription.requested_by, subscription.decided_by) == (S.PENDING, mallory, None)
    assert not subscription.is_active


def test_an_auto_approve_service_approves_at_once(requester, other_app, service, plan):
    service.approval_mode = ApprovalMode.AUTO
    service.save()
    subscription = _request(requester, other_app, service, plan)
    assert (subscription.status, subscription.decided_by, subscription.reason) == (S.APPROVED, None, "auto-approved")
    assert subscription.is_active
    assert subscription.decided_at is not None


@pytest.mark.parametrize(
    ("visibility", "lifecycle"),
    [
        pytest.param(Visibility.PRIVATE, Lifecycle.PUBLISHED, id="private-to-another-tenant"),
        pytest.param(Visibility.SHARED, Lifecycle.PUBLISHED, id="shared-with-others-only"),
        pytest.param(Visibility.PUBLIC, Lifecycle.DRAFT, id="public-draft"),
        pytest.param(Visibility.PUBLIC, Lifecycle.RETIRED, id="public-retired"),
    ],
)
def test_a_service_the_app_may_not_see_does_not_exist_for_it(
    requester, other_app, service, plan, visibility, lifecycle
):
    service.shared_with.set([TenantFactory()])
    service.visibility, service.lifecycle = visibility, lifecycle
    service.save()
    with pytest.raises(Http404):
        _request(requester, other_app, service, plan)
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("lifecycle", "says"),
    [
        (Lifecycle.DRAFT, "is a draft"),
        (Lifecycle.DEPRECATED, "takes no new subscriptions"),
        (Lifecycle.RETIRED, "retired"),
    ],
)
def test_a_visible_service_that_is_not_published_is_refused_naming_the_service(
    members, app, service, plan, lifecycle, says
):
    service.lifecycle = lifecycle
    service.save()
    with pytest.raises(ApplicationError) as refused:
        _request(members[Role.OWNER], app, service, plan)
    assert (refused.value.field, refused.value.status_code) == ("service", 400)
    assert says in refused.value.message


def test_a_deprecated_public_service_refuses_new_subscriptions_from_other_tenants(requester, other_app, service, plan):
    service.lifecycle = Lifecycle.DEPRECATED
    service.save()
    with pytest.raises(ApplicationError, match="deprecated: it takes no new subscriptions"):
        _request(requester, other_app, service, plan)


def test_the_plan_must_be_one_of_the_service(requester, other_app, service):
    foreign_plan = PlanFactory(service=ServiceFactory(tenant=service.tenant, route=service.route))
    with pytest.raises(ApplicationError) as refused:
        _request(requester, other_app, service, foreign_plan)
    assert refused.value.field == "plan"


def test_the_purpose_is_required(requester, other_app, service, plan):
    with pytest.raises(ApplicationError) as refused:
        _request(requester, other_app, service, plan, purpose="   ")
    assert refused.value.field == "purpose"


def test_a_second_open_request_for_the_same_app_and_service_is_a_conflict(requester, other_app, service, plan, members):
    first = _request(requester, other_app, service, plan)
    with pytest.raises(ConflictError) as conflict:
        _request(requester, other_app, service, plan)
    assert "pending approval" in conflict.value.message
    subscription_reject(subscription=first, actor_membership=members[Role.OWNER], reason="No")
    assert _request(requester, other_app, service, plan).status == S.PENDING  # a rejection frees the pair


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_only_who_manages_the_app_may_request(other_tenant, other_app, service, plan, role):
    membership = MembershipFactory(tenant=other_tenant, role=role)
    with pytest.raises(NotPermitted):
        _request(membership, other_app, service, plan)


def test_an_app_of_another_tenant_cannot_be_used(members, other_app, service, plan):
    with pytest.raises(NotPermitted):
        _request(members[Role.OWNER], other_app, service, plan)


@pytest.mark.parametrize("name", TRANSITIONS)
@pytest.mark.parametrize("status", S.values)
def test_state_machine(make_subscription, members, name, status):
    subscription = make_subscription(status=status, expires_at=timezone.now() + timedelta(days=5))
    transition, arguments = TRANSITIONS[name]
    if status in ALLOWED[name]:
        result = transition(subscription=subscription, actor_membership=members[Role.ADMIN], **arguments)
        assert result.status == ALLOWED[name][status]
        assert result.decided_by == members[Role.ADMIN].user
    else:
        with pytest.raises(ConflictError) as conflict:
            transition(subscription=subscription, actor_membership=members[Role.ADMIN], **arguments)
        assert conflict.value.status_code == 409
        assert conflict.value.extra == {"status": status}
        assert S(status).label.lower() in conflict.value.message
    subscription.refresh_from_db()
    assert subscription.status == ALLOWED[name].get(status, status)


def test_approving_a_suspended_subscription_says_to_resume_it(make_subscription, members):
    with pytest.raises(ConflictError, match="resume it"):
        subscription_approve(subscription=make_subscription(S.SUSPENDED), actor_membership=members[Role.OWNER])


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("owner", True),
        ("admin", True),
        ("developer", False),
        ("viewer", False),
        ("reviewer", True),
        ("requester", False),
    ],
)
def test_who_may_decide(subscription, service, members, requester, who, allowed):
    """Owners and admins of the service's tenant decide; a developer appointed reviewer of the service too (guardian);
    the requesting tenant never decides on its own request."""
    if who == "reviewer":
        assign_perm("catalog.approve_subscription", members[Role.DEVELOPER].user, service)
    membership = {"requester": requester, "reviewer": members[Role.DEVELOPER]}.get(who) or members.get(who)
    if allowed:
        assert subscription_approve(subscription=subscription, actor_membership=membership).status == S.APPROVED
    else:
        with pytest.raises(NotPermitted):
            subscription_approve(subscription=subscription, actor_membership=membership)
        subscription.refresh_from_db()
        assert subscription.status == S.PENDING


@pytest.mark.parametrize("name", ["reject", "suspend", "revoke"])
def test_a_decision_against_the_app_needs_a_reason(make_subscription, members, name):
    status = S.PENDING if name == "reject" else S.APPROVED
    transition, _ = TRANSITIONS[name]
    with pytest.raises(ApplicationError) as refused:
        transition(subscription=make_subscription(status), actor_membership=members[Role.OWNER], reason=" ")
    assert (refused.value.field, refused.value.status_code) == ("reason", 400)


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_a_time_box_is_1_to_3650_days(subscription, members, days):
    with pytest.raises(ApplicationError) as refused:
        subscription_approve(subscription=subscription, actor_membership=members[Role.OWNER], expires_in_days=days)
    assert refused.value.field == "expires_in_days"


def test_a_time_boxed_approval_stops_being_active_when_it_expires(subscription, members):
    approved = subscription_approve(subscription=subscription, actor_membership=members[Role.OWNER], expires_in_days=7)
    assert approved.expires_at == pytest.approx(timezone.now() + timedelta(days=7), abs=timedelta(seconds=5))
    assert approved.is_active
    assert list(subscription_list_active()) == [approved]
    Subscription.objects.filter(pk=approved.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    approved.refresh_from_db()
    assert (approved.is_active, approved.state, approved.status) == (False, "expired", S.APPROVED)
    assert list(subscription_list_active()) == []


def test_renewal_counts_from_the_later_of_expiry_and_now(make_subscription, members):
    later = make_subscription(S.APPROVED, expires_at=timezone.now() + timedelta(days=10))
    renewed = subscription_renew(subscription=later, actor_membership=members[Role.OWNER], days=30)
    assert renewed.expires_at == pytest.approx(timezone.now() + timedelta(days=40), abs=timedelta(seconds=5))
    Subscription.objects.filter(pk=later.pk).update(expires_at=timezone.now() - timedelta(days=3))
    later.refresh_from_db()
    renewed = subscription_renew(subscription=later, actor_membership=members[Role.OWNER], days=30)
    assert renewed.expires_at == pytest.approx(timezone.now() + timedelta(days=30), abs=timedelta(seconds=5))
    assert renewed.is_active


def test_a_subscription_without_expiry_has_nothing_to_renew(make_subscription, members):
    with pytest.raises(ConflictError, match="nothing to renew"):
        subscription_renew(subscription=make_subscription(S.APPROVED), actor_membership=members[Role.OWNER], days=3)


def test_an_internal_subscription_is_decided_by_the_same_tenant(members, tenant, service, plan):
    app = AppFactory(tenant=tenant, slug="internal-bot")
    subscription = _request(members[Role.OWNER], app, service, plan)
    approved = subscription_approve(subscription=subscription, actor_membership=members[Role.ADMIN])
    assert approved.is_active
