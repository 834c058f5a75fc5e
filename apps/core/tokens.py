"""Secret tokens shown once and stored as HMAC-SHA256 digests under a pepper (not SECRET_KEY).

Format: ``<kind>_<lookup id>_<secret>``. The lookup id finds the row through a unique index; the digest
of the whole token is compared in constant time. Peppers come from settings.API_KEY_PEPPERS as
"id:secret" pairs: the first signs new tokens, all of them verify, so a pepper can be rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from django.conf import settings

LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
LOOKUP_LENGTH = 12
SECRET_BYTES = 32  # 256 bits of randomness in the secret part


@dataclass(frozen=True)
class IssuedToken:
    plaintext: str
    lookup_id: str
    pepper_id: str
    digest: str


@dataclass(frozen=True)
class ParsedToken:
    kind: str
    lookup_id: str


def _peppers() -> dict[str, bytes]:
    peppers: dict[str, bytes] = {}
    for item in settings.API_KEY_PEPPERS:
        pepper_id, _, secret = item.partition(":")
        if not secret:
            raise ValueError("API_KEY_PEPPERS entries must look like 'id:secret'")
        peppers[pepper_id] = secret.encode()
    return peppers


def current_pepper_id() -> str:
    return settings.API_KEY_PEPPERS[0].partition(":")[0]


def token_digest(plaintext: str, pepper_id: str) -> str:
    pepper = _peppers().get(pepper_id)
    if pepper is None:
        return ""
    return hmac.new(pepper, plaintext.encode(), hashlib.sha256).hexdigest()


def token_issue(kind: str) -> IssuedToken:
    lookup_id = "".join(secrets.choice(LOOKUP_ALPHABET) for _ in range(LOOKUP_LENGTH))
    plaintext = f"{kind}_{lookup_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    pepper_id = current_pepper_id()
    return IssuedToken(plaintext, lookup_id, pepper_id, token_digest(plaintext, pepper_id))


def token_parse(plaintext: str, kind: str) -> ParsedToken | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[1]) != LOOKUP_LENGTH or not parts[2]:
        return None
    return ParsedToken(kind=kind, lookup_id=parts[1])


def token_matches(plaintext: str, *, pepper_id: str, digest: str) -> bool:
    expected = token_digest(plaintext, pepper_id)
    return bool(expected) and hmac.compare_digest(expected, digest)
