"""Hashed secrets: revocation shared by API keys and personal tokens, and personal access tokens."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.access.models import PERSONAL_TOKEN_KIND, ApiKey, HashedToken, PersonalAccessToken
from apps.core.errors import ApplicationError, NotPermitted
from apps.core.services import audit_record, config_version_bump
from apps.core.tokens import token_issue


def validate_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry must be in the future.", field="expires_at")


@transaction.atomic
def token_revoke(*, token: HashedToken) -> HashedToken:
    """Revoke an API key or personal token (idempotent for the admin's bulk action); audited."""
    token = type(token).objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            action=f"{token.audit_name}.revoke",
            obj=token,
            tenant=getattr(token, "tenant", None),
            changes={"revoked_at": [None, token.revoked_at]},
        )
        if isinstance(token, ApiKey):
            config_version_bump()  # the data plane drops the key at its next snapshot poll
    return token


@transaction.atomic
def personal_token_issue(
    *, user, name: str, expires_at: datetime | None = None, actor_token: PersonalAccessToken | None = None
) -> tuple[PersonalAccessToken, str]:
    """A new token for `user`, from an interactive session only. `actor_token`: the token the request came with, if
    any. A token that could mint tokens would let a leaked one outlive its own revocation."""
    if actor_token is not None:
        raise NotPermitted(
            "A personal access token cannot create tokens: create them in the portal, logged in "
            "(Personal access tokens), or through the API from a logged-in session."
        )
    if not name.strip():
        raise ApplicationError("Give the token a name.", field="name")
    validate_expiry(expires_at)
    issued = token_issue(PERSONAL_TOKEN_KIND)
    token = PersonalAccessToken.objects.create(
        user=user,
        name=name.strip(),
        lookup_id=issued.lookup_id,
        pepper_id=issued.pepper_id,
        digest=issued.digest,
        expires_at=expires_at,
    )
    audit_record(action="personal_token.issue", obj=token, changes={"expires_at": expires_at})
    return token, issued.plaintext
