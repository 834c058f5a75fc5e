from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.access.models import ApiKey
from apps.access.selectors import api_key_authenticate
from apps.access.services import api_key_issue, api_key_revoke
from apps.core.errors import ApplicationError, ConflictError
from apps.core.models import AuditEvent
from apps.tenants.models import Role

pytestmark = pytest.mark.django_db


def test_issued_key_has_the_documented_format_and_enough_randomness(issued_key):
    key, plaintext = issued_key
    kind, lookup_id, secret = plaintext.split("_", 2)
    assert kind == "gwk"
    assert lookup_id == key.lookup_id
    assert key.prefix == f"gwk_{lookup_id}"
    # token_urlsafe(32): 43 base64url characters = 256 bits
    assert len(secret) >= 43


def test_database_never_holds_the_secret(issued_key):
    key, plaintext = issued_key
    secret = plaintext.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM access_apikey")
        rows = cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT changes::text FROM core_auditevent"
            if connection.vendor == "postgresql"
            else "SELECT changes FROM core_auditevent"
        )
        audit = cursor.fetchall()
    dumped = repr(rows) + repr(audit)
    assert secret not in dumped
    assert plaintext not in dumped
    assert len(key.digest) == 64


def test_key_authenticates_with_its_secret(issued_key):
    key, plaintext = issued_key
    assert api_key_authenticate(plaintext=plaintext) == key


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),  # wrong secret
        lambda p: p.replace("gwk_", "gwp_", 1),  # wrong kind
        lambda p: "gwk_" + "x" * 12 + "_" + p.split("_", 2)[2],  # unknown lookup id
        lambda p: p.rsplit("_", 1)[0],  # truncated
        lambda p: "",
    ],
    ids=["wrong-secret", "wrong-kind", "unknown-lookup", "truncated", "empty"],
)
def test_mangled_key_is_rejected(issued_key, mangle):
    _, plaintext = issued_key
    assert api_key_authenticate(plaintext=mangle(plaintext)) is None


def test_revoked_key_is_rejected(issued_key, members):
    key, plaintext = issued_key
    api_key_revoke(key=key, actor_membership=members[Role.ADMIN])
    assert api_key_authenticate(plaintext=plaintext) is None
    assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(key.pk)).exists()


def test_revoking_twice_is_a_conflict(issued_key, members):
    key, _ = issued_key
    api_key_revoke(key=key, actor_membership=members[Role.ADMIN])
    with pytest.raises(ConflictError):
        api_key_revoke(key=ApiKey.objects.get(pk=key.pk), actor_membership=members[Role.ADMIN])


def test_revoking_from_a_stale_copy_is_still_a_conflict(issued_key, members):
    """Two concurrent requests each hold a copy loaded before either revoked: the second must not succeed too."""
    key, _ = issued_key
    stale = ApiKey.objects.get(pk=key.pk)
    api_key_revoke(key=key, actor_membership=members[Role.ADMIN])
    with pytest.raises(ConflictError):
        api_key_revoke(key=stale, actor_membership=members[Role.OWNER])
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1


def test_expired_key_is_rejected(issued_key):
    key, plaintext = issued_key
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_key_authenticate(plaintext=plaintext) is None


def test_expiry_in_the_past_is_refused(app):
    with pytest.raises(ApplicationError) as excinfo:
        api_key_issue(app=app, name="k", actor_membership=None, expires_at=timezone.now() - timedelta(days=1))
    assert excinfo.value.field == "expires_at"


def test_key_signed_with_an_old_pepper_still_verifies_after_rotation(app, settings):
    settings.API_KEY_PEPPERS = ["1:old-pepper"]
    key, plaintext = api_key_issue(app=app, name="old", actor_membership=None)
    settings.API_KEY_PEPPERS = ["2:new-pepper", "1:old-pepper"]
    assert api_key_authenticate(plaintext=plaintext) == key
    new_key, new_plaintext = api_key_issue(app=app, name="new", actor_membership=None)
    assert new_key.pepper_id == "2"
    settings.API_KEY_PEPPERS = ["2:new-pepper"]
    assert api_key_authenticate(plaintext=plaintext) is None
    assert api_key_authenticate(plaintext=new_plaintext) == new_key


def test_last_used_is_recorded(issued_key):
    key, plaintext = issued_key
    assert key.last_used_at is None
    api_key_authenticate(plaintext=plaintext)
    key.refresh_from_db()
    assert key.last_used_at is not None
