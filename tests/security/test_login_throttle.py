"""Log-in throttling on both forms (/accounts/login/ and /admin/login/): after LOGIN_FAILURE_LIMIT failures the
account is locked, and so is the address they came from, even for the right password; the lockout page says so
and for how long; each lockout is audited; the pause ends after its cool-off. Attempts live in the database, so
this holds with the in-process cache of the embedded default and with Redis alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db.models import F

from apps.core.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

USER_FORM = "/accounts/login/"
ADMIN_FORM = "/admin/login/"
ATTACKER = "203.0.113.7"


@pytest.fixture(params=["locmem", "redis"], autouse=True)
def cache(request, settings):
    """The embedded default's per-process cache, and Redis (the suite's server) as in production."""
    if request.param == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    else:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": django_settings.REDIS_URL}
        }
    return request.param


@pytest.fixture
def staff():
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def _log_in(client, form: str, username: str, password: str, address: str = ATTACKER):
    return client.post(form, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("form", [USER_FORM, ADMIN_FORM])
def test_twenty_wrong_passwords_then_the_right_one_is_refused(client, staff, form):
    answers = [_log_in(client, form, "root", f"guess-{n}").status_code for n in range(20)]
    assert answers[: django_settings.AXES_FAILURE_LIMIT - 1] == [200] * (django_settings.AXES_FAILURE_LIMIT - 1)
    assert set(answers[django_settings.AXES_FAILURE_LIMIT :]) == {429}
    response = _log_in(client, form, "root", PASSWORD)
    assert response.status_code == 429
    assert not _logged_in(client)
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "paused\n    for 15 minutes" in page
    assert "/static/vendor/pico/pico.min.css" in page  # the portal's page, not a bare error


@pytest.mark.parametrize(("form", "source"), [(USER_FORM, "ui"), (ADMIN_FORM, "admin")])
def test_a_lockout_is_audited_with_the_account_and_the_address(client, staff, form, source):
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        _log_in(client, form, "root", f"guess-{n}")
    [event] = AuditEvent.objects.filter(action="login.lockout")
    assert (event.object_type, event.object_id, event.object_repr) == ("auth.user", str(staff.pk), "root")
    assert (event.ip_address, event.source, event.actor, event.actor_label) == (ATTACKER, source, None, "anonymous")
    assert event.changes == {"username": "root", "path": form}


def test_an_address_that_guesses_many_accounts_is_locked_for_every_account(client, staff):
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        _log_in(client, USER_FORM, f"someone-{n}", "guess")
    victim = UserFactory(username="victim")
    assert _log_in(client, USER_FORM, victim.username, PASSWORD).status_code == 429
    assert not _logged_in(client)
    # The account itself is not to blame: from its owner's own address it still logs in.
    assert _log_in(client, USER_FORM, victim.username, PASSWORD, address="198.51.100.20").status_code == 302
    assert _logged_in(client)


def test_an_account_guessed_from_many_addresses_is_locked_from_any_address(client, staff):
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        _log_in(client, ADMIN_FORM, "root", "guess", address=f"192.0.2.{n + 1}")
    assert _log_in(client, ADMIN_FORM, "root", PASSWORD, address="198.51.100.20").status_code == 429
    assert not _logged_in(client)


def test_the_lockout_ends_after_its_cool_off(client, staff):
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        _log_in(client, USER_FORM, "root", f"guess-{n}")
    assert _log_in(client, USER_FORM, "root", PASSWORD).status_code == 429
    # The failures age past the cool-off (the clock is not touched: the attempts are moved back in time).
    cool_off = django_settings.AXES_COOLOFF_TIME + timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - cool_off)
    assert _log_in(client, USER_FORM, "root", PASSWORD).status_code == 302
    assert _logged_in(client)


def test_a_few_typos_do_not_lock_anyone_out(client, staff):
    for n in range(django_settings.AXES_FAILURE_LIMIT - 1):
        assert _log_in(client, USER_FORM, "root", f"typo-{n}").status_code == 200
    assert _log_in(client, USER_FORM, "root", PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action="login.lockout").exists()
