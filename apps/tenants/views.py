"""Web pages of a tenant: switching tenants, its members and its audit trail. Writes go through services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import ServiceForm
from apps.core.web import flash_outcome, is_htmx, redirect_after_action
from apps.tenants import selectors, services
from apps.tenants.forms import AuditFilterForm, MemberAddForm, MemberRoleForm, TenantSettingsForm, TenantSwitchForm
from apps.tenants.models import Membership, Role
from apps.tenants.web import SESSION_KEY, current_membership, tenant_required

AUDIT_PAGE_SIZE = 50
DASHBOARD_URL = "/"


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Work in another tenant; only one the user belongs to (else 404, and the session keeps its tenant)."""
    form = TenantSwitchForm(request.POST)
    if not form.is_valid():
        raise Http404("No such tenant.")
    tenant, _ = selectors.tenant_get_for_user(user=request.user, slug=form.cleaned_data["tenant"])
    request.session[SESSION_KEY] = tenant.pk
    messages.success(request, f"You are now working in {tenant}.")
    return redirect(DASHBOARD_URL)


@login_required
@require_GET
def no_tenant(request: HttpRequest) -> HttpResponse:
    if current_membership(request) is not None:
        return redirect(DASHBOARD_URL)
    return render(request, "tenants/no_tenant.html")


@tenant_required(Role.OWNER)
@require_http_methods(["GET", "POST"])
def tenant_settings(request: HttpRequest) -> HttpResponse:
    """The tenant's settings, for its owners: its name, whether its apps need subscriptions to its own services,
    whether calls go on unlimited while limits cannot be counted; the page loads its limits section (access)."""
    tenant = request.tenant
    initial = {
        "name": tenant.name,
        "require_internal_subscriptions": tenant.require_internal_subscriptions,
        "limits_fail_open": tenant.limits_fail_open,
    }
    form = TenantSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.submit(services.tenant_update, tenant=tenant, actor_membership=request.membership):
        messages.success(request, f"The settings of {form.result} are saved.")
        return redirect("tenants:settings")
    return render(request, "tenants/settings.html", {"form": form}, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest) -> HttpResponse:
    """The tenant's members; POST invites an existing user with a role."""
    form = MemberAddForm(request.POST) if request.method == "POST" else MemberAddForm()
    if form.is_bound and form.submit(
        services.membership_add, tenant=request.tenant, actor_membership=request.membership
    ):
        messages.success(request, f"{form.result.user} joined {request.tenant} as {form.result.get_role_display()}.")
        return redirect("tenants:member-list")
    context = {"members": selectors.membership_list(tenant=request.tenant), "form": form, "role_choices": Role.choices}
    return render(request, "tenants/member_list.html", context, status=form.status_code)


def _member_row(request: HttpRequest, member: Membership, form: ServiceForm) -> HttpResponse:
    context = {"member": member, "role_choices": Role.choices, "errors": form.error_texts()}
    return render(request, "tenants/_member_row.html", context, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a member's role (inline, with htmx); the row answers with the stored role and any refusal."""
    member = selectors.membership_get_in_tenant(tenant=request.tenant, pk=pk)
    form = MemberRoleForm(request.POST)
    if form.submit(services.membership_set_role, membership=member, actor_membership=request.membership):
        member = form.result
    if is_htmx(request):
        return _member_row(request, member, form)
    flash_outcome(request, form, success=f"{member.user} is now {member.get_role_display()}.")
    return redirect("tenants:member-list")


@tenant_required(Role.ADMIN)
@require_POST
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.membership_get_in_tenant(tenant=request.tenant, pk=pk)
    form = ServiceForm(request.POST)
    removed = form.submit(services.membership_remove, membership=member, actor_membership=request.membership)
    if removed and member.user_id == request.user.pk:
        messages.success(request, f"You left {request.tenant}.")
        return redirect_after_action(request, DASHBOARD_URL)
    if is_htmx(request):
        return HttpResponse("") if removed else _member_row(request, member, form)  # "" deletes the row
    flash_outcome(request, form, success=f"{member.user} no longer belongs to {request.tenant}.")
    return redirect("tenants:member-list")


@tenant_required(Role.ADMIN)
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """The tenant's audit trail, filtered and paginated; invalid filters answer 400 with the form's errors."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "tenants/audit_list.html", {"form": form, "page": None}, status=400)
    events = selectors.audit_event_list(tenant=request.tenant, filters=form.cleaned_data)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tenants/audit_list.html", {"form": form, "page": page})
