"""Web pages of apps, API keys, personal access tokens, subscriptions, approvals and notifications, and the
home page. Writes go through services.

A new secret is rendered once, in the answer to the POST that issued it, and never kept anywhere: the create
forms post with htmx, so reloading the page afterwards is a plain GET that cannot show it again."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.access import selectors, services
from apps.access.forms import (
    ApiKeyCreateForm,
    AppCreateForm,
    PersonalTokenCreateForm,
    SubscriptionApproveForm,
    SubscriptionReasonForm,
    SubscriptionRenewForm,
    SubscriptionRequestForm,
)
from apps.access.models import App, Subscription, SubscriptionStatus
from apps.access.selectors.subscription_usage import SubscriptionUsage
from apps.core import selectors as core_selectors
from apps.core import services as core_services
from apps.core.forms import ServiceForm
from apps.core.web import flash_outcome, is_htmx, redirect_after_action
from apps.tenants.models import Role
from apps.tenants.web import tenant_required

PAGE_SIZE = 50
# The subscriptions whose usage against their limits is shown: those that let the app call, or did until suspended.
USAGE_SHOWN = (SubscriptionStatus.APPROVED, SubscriptionStatus.SUSPENDED)


@tenant_required()
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The home page of the current tenant, shaped by the member's role (selectors.home_get)."""
    return render(request, "access/home.html", selectors.home_get(membership=request.membership))


@tenant_required()
@require_http_methods(["GET", "POST"])
def app_list(request: HttpRequest) -> HttpResponse:
    """The tenant's apps with their keys; POST creates an app (developers and up)."""
    form = AppCreateForm(request.POST) if request.method == "POST" else AppCreateForm()
    if form.is_bound and form.submit(services.app_create, tenant=request.tenant, actor_membership=request.membership):
        messages.success(request, f"App {form.result} created. Issue it a key to call the gateway.")
        return redirect("access:app-detail", slug=form.result.slug)
    context = {"apps": selectors.app_list(tenant=request.tenant), "form": form}
    return render(request, "access/app_list.html", context, status=form.status_code)


def _app_page(request: HttpRequest, app: App, form: ApiKeyCreateForm, issued: tuple | None = None) -> HttpResponse:
    """The app page (keys, subscriptions, usage), or only its keys section for htmx; `issued` is (key, secret)
    right after issuing a key."""
    can_manage = selectors.app_can_manage(membership=request.membership, app=app)
    context = {
        "app": app,
        "keys": selectors.api_key_list(app=app),
        "can_manage": can_manage,
        "form": form if can_manage else None,
        "issued_key": issued[0] if issued else None,
        "secret": issued[1] if issued else None,
    }
    if is_htmx(request):
        return render(request, "access/_api_key_section.html", context, status=form.status_code)
    context["subscriptions"] = selectors.subscription_list_for_app(app=app)
    context["usage"] = selectors.app_usage_get(app=app)
    counting = [s for s in context["subscriptions"] if s.status in USAGE_SHOWN]
    context["limit_usages"] = selectors.subscription_usage_list(subscriptions=counting).values()
    return render(request, "access/app_detail.html", context, status=form.status_code)


@tenant_required()
@require_GET
def app_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _app_page(request, selectors.app_get(tenant=request.tenant, slug=slug), ApiKeyCreateForm())


@tenant_required(Role.DEVELOPER)
@require_POST
def app_delete(request: HttpRequest, slug: str) -> HttpResponse:
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    form = ServiceForm(request.POST)
    if form.submit(services.app_delete, app=app, actor_membership=request.membership):
        messages.success(request, f"App {app} and its keys were deleted.")
        return redirect_after_action(request, "access:app-list")
    if is_htmx(request):
        context = {"app": app, "errors": form.error_texts()}
        return render(request, "access/_app_delete_form.html", context, status=form.status_code)
    flash_outcome(request, form)
    return redirect("access:app-detail", slug=app.slug)


@tenant_required(Role.DEVELOPER)
@require_POST
def app_subscription_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Withdraw the app's pending request or unsubscribe it; htmx gets the subscription's row back with the
    outcome or the refusal in place, a plain form post the app page with it as a message."""
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    subscription = selectors.subscription_get_for_app(app=app, pk=pk)
    if subscription.status == SubscriptionStatus.PENDING:
        outcome = f"The request of {app} for {subscription.service} is withdrawn."
    else:
        outcome = f"{app} is unsubscribed from {subscription.service}: its keys no longer call it."
    form = ServiceForm(request.POST)
    done = form.submit(services.subscription_cancel, subscription=subscription, actor_membership=request.membership)
    if is_htmx(request):
        context = {
            "app": app,
            "subscription": form.result or subscription,
            "can_manage": selectors.app_can_manage(membership=request.membership, app=app),
            "errors": form.error_texts(),
            "done": outcome if done else None,
        }
        return render(request, "access/_app_subscription_row.html", context, status=form.status_code)
    flash_outcome(request, form, success=outcome)
    return redirect("access:app-detail", slug=app.slug)


@tenant_required(Role.DEVELOPER)
@require_POST
@never_cache
def api_key_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Issue a key; the answer shows its secret this once."""
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    form = ApiKeyCreateForm(request.POST)
    if form.submit(services.api_key_issue, app=app, actor_membership=request.membership):
        return _app_page(request, app, ApiKeyCreateForm(), issued=form.result)
    return _app_page(request, app, form)


@tenant_required(Role.DEVELOPER)
@require_POST
def api_key_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    key = selectors.api_key_get(app=app, pk=pk)
    form = ServiceForm(request.POST)
    if form.submit(services.api_key_revoke, key=key, actor_membership=request.membership):
        key = form.result
    if is_htmx(request):
        can_manage = selectors.app_can_manage(membership=request.membership, app=app)
        context = {"app": app, "key": key, "can_manage": can_manage, "errors": form.error_texts()}
        return render(request, "access/_api_key_row.html", context, status=form.status_code)
    flash_outcome(request, form, success=f"Key {key.prefix} revoked: it no longer works.")
    return redirect("access:app-detail", slug=app.slug)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def personal_token_list(request: HttpRequest) -> HttpResponse:
    """The user's personal access tokens for the management API; POST issues one and shows its secret once."""
    form = PersonalTokenCreateForm(request.POST) if request.method == "POST" else PersonalTokenCreateForm()
    issued = None
    if form.is_bound and form.submit(services.personal_token_issue, user=request.user):
        issued, form = form.result, PersonalTokenCreateForm()
    context = {
        "tokens": selectors.personal_token_list(user=request.user),
        "form": form,
        "issued_token": issued[0] if issued else None,
        "secret": issued[1] if issued else None,
    }
    template = "access/_personal_token_section.html" if is_htmx(request) else "access/personal_token_list.html"
    return render(request, template, context, status=form.status_code)


@login_required
@require_POST
def personal_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = selectors.personal_token_get(user=request.user, pk=pk)
    form = ServiceForm(request.POST)
    if form.submit(services.token_revoke, token=token):
        token = form.result
    if is_htmx(request):
        return render(request, "access/_personal_token_row.html", {"token": token}, status=form.status_code)
    flash_outcome(request, form, success=f"Token {token.prefix} revoked: it no longer works.")
    return redirect("access:personal-token-list")


@tenant_required()
@require_http_methods(["GET", "POST"])
def subscription_list(request: HttpRequest) -> HttpResponse:
    """The subscriptions of the tenant's apps and their states; POST requests one (whoever manages the app)."""
    options = {
        "apps": selectors.app_list(tenant=request.tenant),
        "services": selectors.subscription_plan_choices(tenant=request.tenant),
    }
    form = SubscriptionRequestForm(request.POST if request.method == "POST" else None, **options)
    if form.is_bound and form.submit(services.subscription_request, actor_membership=request.membership):
        outcome = "approved at once" if form.result.is_active else "waiting for approval"
        messages.success(request, f"{form.result.app} subscribed to {form.result.service}: {outcome}.")
        return redirect("access:subscription-list")
    subscriptions = selectors.subscription_list_for_app_tenant(tenant=request.tenant)
    context = {"page": Paginator(subscriptions, PAGE_SIZE).get_page(request.GET.get("page")), "form": form}
    return render(request, "access/subscription_list.html", context, status=form.status_code)


def _approval_card(subscription: Subscription, usage: SubscriptionUsage | None = None) -> dict:
    """`usage`: the subscription's current usage, shown next to the plan's limits (approved and suspended ones)."""
    if usage is None and subscription.status in USAGE_SHOWN:
        usage = selectors.subscription_usage_get(subscription=subscription, app_side=False)
    cost = selectors.subscription_cost_projection(subscription=subscription)
    return {"subscription": subscription, "cost": cost, "usage": usage}


@tenant_required(Role.ADMIN)
@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    """Subscriptions to the tenant's services, the pending ones first (?status=… for the others): who asks, why,
    the plan and what it would cost a month, with the decisions each state allows."""
    status = request.GET.get("status", SubscriptionStatus.PENDING)
    filters = {"status": status} if status in SubscriptionStatus.values else {}
    subscriptions = selectors.subscription_list_for_approver(tenant=request.tenant, filters=filters)
    page = Paginator(subscriptions, PAGE_SIZE).get_page(request.GET.get("page"))
    counting = [s for s in page if s.status in USAGE_SHOWN]
    usages = selectors.subscription_usage_list(subscriptions=counting, app_side=False)
    context = {
        "page": page,
        "cards": [_approval_card(subscription, usages.get(subscription.pk)) for subscription in page],
        "status": status if filters else "all",
        "statuses": SubscriptionStatus.choices,
    }
    return render(request, "access/approval_list.html", context)


DECISIONS = {
    "approve": (services.subscription_approve, SubscriptionApproveForm, "approved"),
    "reject": (services.subscription_reject, SubscriptionReasonForm, "rejected"),
    "suspend": (services.subscription_suspend, SubscriptionReasonForm, "suspended"),
    "resume": (services.subscription_resume, ServiceForm, "resumed"),
    "revoke": (services.subscription_revoke, SubscriptionReasonForm, "revoked"),
    "renew": (services.subscription_renew, SubscriptionRenewForm, "renewed"),
}


@tenant_required(Role.ADMIN)
@require_POST
def approval_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """One decision on one subscription; htmx gets its card back, with the outcome or the refusal in place."""
    if decision not in DECISIONS:
        raise Http404("No such decision.")
    service, form_class, done = DECISIONS[decision]
    subscription = selectors.subscription_get_for_approver(tenant=request.tenant, pk=pk)
    form = form_class(request.POST)
    decided = form.submit(service, subscription=subscription, actor_membership=request.membership)
    if decided:
        subscription = selectors.subscription_get_for_approver(tenant=request.tenant, pk=pk)
    if is_htmx(request):
        context = {**_approval_card(subscription), "errors": form.error_texts(), "done": done if decided else None}
        return render(request, "access/_approval_card.html", context, status=form.status_code)
    flash_outcome(request, form, success=f"Subscription of {subscription.app} to {subscription.service} {done}.")
    return redirect("access:approval-list")


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = core_selectors.notification_list(user=request.user)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "access/notification_list.html", {"page": page})


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = core_selectors.notification_get(user=request.user, pk=pk)
    core_services.notification_mark_read(notification=notification)
    if is_htmx(request):
        context = {"notification": notification, "oob": True}  # oob: the bell's unread count follows
        return render(request, "access/_notification_item.html", context)
    return redirect("access:notification-list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = core_services.notification_mark_all_read(user=request.user)
    messages.success(request, f"{count} notification(s) marked as read.")
    return redirect("access:notification-list")
