"""The alert pages: rules with the alert history, a rule with its incidents and deliveries, and the rule forms.
Every member reads them; owners and admins change rules, through the alert services.

A webhook secret is rendered once, in the answer to the POST that created or rotated it, and never again."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.analytics.forms.alerts import AlertRuleForm, AlertRuleUpdateForm
from apps.analytics.models import AlertRule
from apps.analytics.selectors import alerts as selectors
from apps.analytics.services import alert_deliveries
from apps.analytics.services import alerts as services
from apps.core.forms import ServiceForm
from apps.core.web import flash_outcome, is_htmx, redirect_after_action
from apps.tenants.models import Role
from apps.tenants.web import tenant_required

HISTORY_PAGE_SIZE = 25


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render with `can_manage`: whether the member may change alert rules (owners, admins)."""
    return render(request, template, {"can_manage": request.membership.has_role(Role.ADMIN), **context}, status=status)


@tenant_required()
@require_GET
def alert_rule_list(request: HttpRequest) -> HttpResponse:
    """The tenant's rules, and its alerts: firing ones first, then the most recent (filter: ?state=)."""
    state = request.GET.get("state") if request.GET.get("state") in dict(selectors.AlertState.CHOICES) else None
    history = selectors.alert_list(tenant=request.tenant, state=state)
    context = {
        "rules": selectors.alert_rule_list(tenant=request.tenant),
        "page": Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page")),
        "state": state,
        "states": selectors.AlertState.CHOICES,
    }
    return _page(request, "analytics/alert_rule_list.html", context)


def _rule_page(request: HttpRequest, rule: AlertRule, secret: str = "", outcomes=None) -> HttpResponse:
    """The rule's page; `secret` right after it was created or its secret rotated, `outcomes` after a test."""
    context = {
        "rule": rule,
        "alerts": selectors.alert_list_with_deliveries(tenant=request.tenant, rule=rule)[:HISTORY_PAGE_SIZE],
        "secret": secret,
        "outcomes": outcomes,
    }
    return _page(request, "analytics/alert_rule_detail.html", context)


@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
@never_cache
def alert_rule_create(request: HttpRequest) -> HttpResponse:
    """A new rule; the answer is the rule's page with its webhook secret, shown this once."""
    form = AlertRuleForm(request.POST if request.method == "POST" else None, tenant=request.tenant)
    if form.is_bound and form.submit(
        services.alert_rule_create, tenant=request.tenant, actor_membership=request.membership
    ):
        rule, secret = form.result
        messages.success(request, f"Alert rule {rule} created.")
        return _rule_page(request, selectors.alert_rule_get(tenant=request.tenant, pk=rule.pk), secret=secret)
    return _page(request, "analytics/alert_rule_form.html", {"form": form}, status=form.status_code)


@tenant_required()
@require_GET
def alert_rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_page(request, selectors.alert_rule_get(tenant=request.tenant, pk=pk))


@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def alert_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
    form = AlertRuleUpdateForm.of(rule, request.POST if request.method == "POST" else None)
    if form.is_bound and form.submit(services.alert_rule_update, rule=rule, actor_membership=request.membership):
        messages.success(request, f"Alert rule {rule} saved.")
        return redirect("analytics:alert-rule-detail", pk=rule.pk)
    return _page(request, "analytics/alert_rule_form.html", {"form": form, "rule": rule}, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_POST
def alert_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
    form = ServiceForm(request.POST)
    if form.submit(services.alert_rule_delete, rule=rule, actor_membership=request.membership):
        messages.success(request, f"Alert rule {rule} and its history were deleted.")
        return redirect_after_action(request, "analytics:alert-rule-list")
    flash_outcome(request, form)
    return redirect_after_action(request, reverse("analytics:alert-rule-detail", kwargs={"pk": rule.pk}))


@tenant_required(Role.ADMIN)
@require_POST
@never_cache
def alert_rule_rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """A new webhook secret, shown this once on the rule's page; the old one stops signing at once."""
    rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
    form = ServiceForm(request.POST)
    if form.submit(services.alert_rule_secret_rotate, rule=rule, actor_membership=request.membership):
        if is_htmx(request):
            return render(request, "analytics/_alert_secret_once.html", {"rule": rule, "secret": form.result})
        return _rule_page(request, rule, secret=form.result)
    flash_outcome(request, form)
    return redirect("analytics:alert-rule-detail", pk=rule.pk)


@tenant_required(Role.ADMIN)
@require_POST
def alert_rule_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a test notification to the rule's recipients and webhook now; show how each went."""
    rule = selectors.alert_rule_get(tenant=request.tenant, pk=pk)
    form = ServiceForm(request.POST)
    form.submit(alert_deliveries.alert_rule_test_notify, rule=rule, actor_membership=request.membership)
    if is_htmx(request):
        context = {"outcomes": form.result, "errors": form.error_texts()}
        return render(request, "analytics/_alert_test_outcomes.html", context, status=form.status_code)
    flash_outcome(request, form)
    return _rule_page(request, rule, outcomes=form.result)
