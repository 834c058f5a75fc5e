from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_users_with_perms

from apps.access.models import ApiKey, App, HashedToken, PersonalAccessToken
from apps.core.tokens import token_matches, token_parse
from apps.tenants.models import Membership, Role, Tenant
from apps.tenants.selectors import is_row_id

LAST_USED_RESOLUTION = timedelta(minutes=1)


def app_list(*, tenant: Tenant) -> QuerySet[App]:
    return (
        App.objects.for_tenant(tenant)
        .select_related("created_by")
        .prefetch_related(Prefetch("keys", queryset=ApiKey.objects.order_by("-created_at")))
        .order_by("name")
    )


def app_get(*, tenant: Tenant, slug: str) -> App:
    app = App.objects.for_tenant(tenant).filter(slug=slug).first()
    if app is None:
        raise Http404("No such app.")
    return app


def app_can_manage(*, membership: Membership, app: App) -> bool:
    """Admins and owners manage every app of their tenant; others need the per-app guardian permission."""
    if membership.tenant_id != app.tenant_id:
        return False
    if membership.has_role(Role.ADMIN):
        return True
    return membership.has_role(Role.DEVELOPER) and membership.user.has_perm("access.manage_app", app)


def app_managers(*, app: App) -> list:
    return list(get_users_with_perms(app, only_with_perms_in=["manage_app"]))


def api_key_list(*, app: App) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(app=app).order_by("-created_at")


def api_key_get(*, app: App, pk: int | str) -> ApiKey:
    key = api_key_list(app=app).filter(pk=pk).first() if is_row_id(pk) else None
    if key is None:
        raise Http404("No such key.")
    return key


def _authenticate(model: type[HashedToken], plaintext: str, related: list[str]) -> HashedToken | None:
    parsed = token_parse(plaintext, model.kind)
    if parsed is None:
        return None
    token = model.objects.select_related(*related).filter(lookup_id=parsed.lookup_id).first()
    if token is None or not token_matches(plaintext, pepper_id=token.pepper_id, digest=token.digest):
        return None
    if not token.is_usable:
        return None
    now = timezone.now()
    # Record use at most once a minute: a busy script must not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        model.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key for this secret, or None (unknown, wrong secret, revoked or expired)."""
    return _authenticate(ApiKey, plaintext, ["app", "tenant"])


def personal_token_authenticate(*, plaintext: str) -> PersonalAccessToken | None:
    token = _authenticate(PersonalAccessToken, plaintext, ["user"])
    if token is None or not token.user.is_active:
        return None
    return token


def personal_token_list(*, user) -> QuerySet[PersonalAccessToken]:
    return PersonalAccessToken.objects.filter(user=user).order_by("-created_at")


def personal_token_get(*, user, pk: int | str) -> PersonalAccessToken:
    token = personal_token_list(user=user).filter(pk=pk).first() if is_row_id(pk) else None
    if token is None:
        raise Http404("No such token.")
    return token


def tenant_summary(*, tenant: Tenant) -> dict:
    """What the dashboard shows: the apps with their keys, and counts."""
    now = timezone.now()
    apps = list(app_list(tenant=tenant))
    active_keys = ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).exclude(expires_at__lte=now)
    return {
        "apps": apps,
        "app_count": len(apps),
        "active_key_count": active_keys.count(),
        "member_count": Membership.objects.filter(tenant=tenant).count(),
    }
