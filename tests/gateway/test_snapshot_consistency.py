"""A snapshot never misses a committed change: the version commits with the change it counts, and a build
reads the version before the tables, all at one point in time."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from apps.access.models import ApiKey
from apps.access.services import api_key_issue
from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.gateway.adapters import snapshot_build as build_module
from apps.gateway.adapters.snapshot_build import snapshot_build
from tests.factories import AppFactory

pytestmark = pytest.mark.django_db(transaction=True)


def version() -> int:
    return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0


def in_another_session(work):
    """Run `work` on its own database connection (committed when it returns), and wait for it."""
    result = []

    def target():
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return result[0]


def test_the_version_moves_with_the_change_even_when_another_commit_callback_fails():
    app = AppFactory()
    before = version()

    def mail_server_down():
        raise ConnectionRefusedError("smtp")

    def issue_a_key() -> None:
        with transaction.atomic():
            transaction.on_commit(mail_server_down)  # registered first: Django runs none after it
            api_key_issue(app=app, name="k", actor_membership=None)

    with pytest.raises(ConnectionRefusedError):
        issue_a_key()
    assert version() == before + 1  # committed with the key, not left to an after-commit callback
    assert ApiKey.objects.get(app=app).lookup_id in snapshot_build().keys


def test_a_snapshot_of_version_v_holds_exactly_what_was_committed_up_to_v(monkeypatch):
    app = AppFactory()
    api_key_issue(app=app, name="first", actor_membership=None)
    before = version()
    read_keys = build_module._key_entries
    issued = []

    def key_issued_while_building():
        # Another session commits a key (and its version) after this build read the version, before the keys.
        if not issued:
            issued.append(in_another_session(lambda: api_key_issue(app=app, name="second", actor_membership=None)[0]))
        return read_keys()

    monkeypatch.setattr(build_module, "_key_entries", key_issued_while_building)
    snapshot = snapshot_build()
    assert snapshot.version == before
    assert issued[0].lookup_id not in snapshot.keys  # not half of the next version in this one

    rebuilt = snapshot_build()  # the version moved: the next check rebuilds
    assert rebuilt.version == before + 1
    assert issued[0].lookup_id in rebuilt.keys
