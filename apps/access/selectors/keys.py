"""API keys and personal access tokens: listing them, and authenticating a presented secret."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from apps.access.models import ApiKey, App, HashedToken, PersonalAccessToken
from apps.core.tokens import token_matches, token_parse
from apps.tenants.selectors import is_row_id

LAST_USED_RESOLUTION = timedelta(minutes=1)


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
