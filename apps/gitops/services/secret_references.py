"""The `env:` references of applied files, kept so that an export writes them back.

Applying `api_key: env:OPENAI_API_KEY` stores the variable's value; without a memory of the reference, the next
export would write `credential:<slug>` and the outbound sync would rewrite the repository's file. The reference is
kept with an HMAC of the value it resolved to (keyed by the portal's SECRET_KEY, so it reveals nothing), and is
exported only while the stored secret still has that fingerprint."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings

from apps.gitops.models import SecretReference
from apps.providers.models import Provider

ENV_PREFIX = "env:"


def secret_fingerprint(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def secret_references_remember(*, provider: Provider, references: dict[str, Any], values: dict[str, str]) -> None:
    """Keep the `env:` ones of `references` ({field: reference of the file}) with the fingerprints of `values`
    ({field: the secret now stored}); forget the provider's others (a file now naming a stored credential)."""
    kept = []
    for field, reference in references.items():
        value = values.get(field)
        if isinstance(reference, str) and reference.startswith(ENV_PREFIX) and value:
            SecretReference.objects.update_or_create(
                provider=provider,
                field=field,
                defaults={"tenant": provider.tenant, "reference": reference, "fingerprint": secret_fingerprint(value)},
            )
            kept.append(field)
    SecretReference.objects.filter(provider=provider).exclude(field__in=kept).delete()


def kept_reference(provider: Provider, field: str, value: str) -> str | None:
    """The `env:` reference to export for the secret `field` holding `value`, if a file gave one for that value.
    Reads the provider's prefetched gitops_secret_references when the export prefetched them."""
    for remembered in provider.gitops_secret_references.all():
        if (
            remembered.field == field
            and value
            and hmac.compare_digest(remembered.fingerprint, secret_fingerprint(value))
        ):
            return remembered.reference
    return None
