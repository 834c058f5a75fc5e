"""A key the snapshot does not know yet (issued since it was built) answers at once: its id is looked up in the
database once, and what is found passes the same checks as a key of the snapshot. Made-up ids cost a
bounded number of queries."""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from datetime import timedelta

import pytest
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from apps.access.models import ApiKey
from apps.access.services import api_key_issue, api_key_revoke
from apps.gateway import wiring
from apps.gateway.pipeline.types import GatewayRequest
from apps.tenants.models import Role
from tests.factories import MembershipFactory
from tests.gateway.conftest import refresh_snapshot, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key_queries(monkeypatch) -> list[str]:
    """The SQL statements that read API keys, from any thread, from now on."""
    queries: list[str] = []
    original = CursorWrapper.execute

    def counting(self, sql, params=None):
        if '"access_apikey"' in sql:
            queries.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting)
    return queries


@pytest.fixture
def stale(gateway_setup):
    """The snapshot as built by gateway_setup, and no refresh of it unless a test forces one."""
    wiring.get_snapshot_store().poll_seconds = 3600
    return gateway_setup


def _request(secret: str) -> GatewayRequest:
    return GatewayRequest(
        request_id="r", api_key=secret, body={}, received=time.perf_counter(), received_wall=time.time()
    )


async def _models(*secrets: str) -> list[tuple[int, str | None]]:
    """GET /v1/models through the pipeline, concurrently: authentication and the scope check, nothing else."""
    pipeline = wiring.get_pipeline()
    responses = await asyncio.gather(*(pipeline.models(_request(secret)) for secret in secrets))
    return [(r.status, (r.body.get("error") or {}).get("code")) for r in responses]


def models(secret: str) -> tuple[int, str | None]:
    return run(_models(secret))[0]


def test_a_key_issued_after_the_snapshot_was_built_answers_at_once_with_one_query(stale, key_queries):
    key, secret = api_key_issue(app=stale.app, name="new", actor_membership=None)
    assert key.lookup_id not in wiring.get_snapshot_store().snapshot.keys
    key_queries.clear()

    async def many() -> list[tuple[int, int]]:
        pipeline, store = wiring.get_pipeline(), wiring.get_snapshot_store()

        async def one() -> tuple[int, int]:
            entry = await pipeline.authenticate(store.snapshot, secret)
            return entry.key_id, entry.app_id

        return await asyncio.gather(*(one() for _ in range(50)))

    assert set(run(many())) == {(key.pk, stale.app.pk)}
    assert models(secret) == (200, None)
    assert len(key_queries) == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("revoked", 401, "invalid_api_key"),
        ("expired", 401, "expired_api_key"),
        ("catalog scope only", 403, None),
        ("wrong secret", 401, "invalid_api_key"),
    ],
)
def test_a_key_found_in_the_database_passes_the_checks_of_a_snapshot_key(stale, change, status, code):
    scopes = ["catalog"] if change == "catalog scope only" else None
    key, secret = api_key_issue(app=stale.app, name="new", actor_membership=None, scopes=scopes)
    if change == "revoked":
        api_key_revoke(key=key, actor_membership=MembershipFactory(tenant=stale.tenant, role=Role.ADMIN))
    elif change == "expired":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif change == "wrong secret":
        secret = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    assert models(secret)[0] == status
    if code is not None:
        assert models(secret)[1] == code


def test_an_answer_from_the_database_is_dropped_with_the_snapshot_it_completed(stale):
    key, secret = api_key_issue(app=stale.app, name="new", actor_membership=None)
    assert models(secret) == (200, None)  # found in the database, kept
    api_key_revoke(key=key, actor_membership=MembershipFactory(tenant=stale.tenant, role=Role.ADMIN))
    refresh_snapshot()  # the revocation's snapshot
    assert models(secret) == (401, "invalid_api_key")


def test_made_up_key_ids_cost_a_bounded_number_of_queries(stale, key_queries):
    alphabet = string.ascii_lowercase + string.digits
    made_up = [f"gwk_{''.join(secrets.choice(alphabet) for _ in range(12))}_{'s' * 43}" for _ in range(300)]
    started = time.monotonic()
    assert set(run(_models(*made_up))) == {(401, "invalid_api_key")}
    elapsed = time.monotonic() - started
    # The per-process budget: a bucket of 50 refilled at 50 a second while the calls ran, not one query per id.
    assert 0 < len(key_queries) <= 50 + 50 * elapsed + 1

    key_queries.clear()
    time.sleep(0.2)  # budget for a few lookups again
    again = [made_up[-1]] * 100 + [f"gwk_{'x' * 40}_secret"] * 100  # one id over and over; an id never issued
    assert set(run(_models(*again))) == {(401, "invalid_api_key")}
    assert len(key_queries) <= 1
