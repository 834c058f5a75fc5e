"""Services that opt in keep masked request and response bodies of their calls, for as long as they say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.analytics.models import CallBody, CallLog
from apps.analytics.services.retention import retention_prune
from apps.gateway import wiring
from apps.gateway.pipeline.capture import CAPTURE_LIMIT
from tests.gateway import test_invoke
from tests.gateway.conftest import refresh_snapshot, run
from tests.gateway.test_invoke import invoke

prompt_service = test_invoke.service  # its `service` fixture: prompt API `summarize` on the fake upstream

pytestmark = pytest.mark.django_db(transaction=True)


def _flushed() -> None:
    run(wiring.get_call_sink().flush())


def test_a_service_that_captures_keeps_masked_bodies_for_its_days(live_gateway, gateway_setup, prompt_service):
    prompt_service.capture_bodies_days = 7
    prompt_service.save()
    refresh_snapshot()
    answer = invoke(live_gateway, gateway_setup.secret, {"text": "mail jane@example.com, card 4111111111111111"})
    assert answer.status_code == 200
    _flushed()
    body = CallBody.objects.get(request_id=answer.headers["X-Request-Id"])
    assert "jane@example.com" not in body.request
    assert "[EMAIL]" in body.request
    assert "[CARD]" in body.request
    assert "jane@example.com" not in body.response  # the echo model repeats the prompt back
    assert (body.service_id, body.tenant_id) == (prompt_service.pk, gateway_setup.tenant.pk)
    assert timedelta(days=6, hours=23) < body.expires_at - body.created_at <= timedelta(days=7)
    assert retention_prune(now=timezone.now() + timedelta(days=8))["bodies"] == 1


def test_a_failed_call_keeps_its_error_and_a_huge_body_is_cut(live_gateway, gateway_setup, prompt_service):
    prompt_service.capture_bodies_days = 1
    prompt_service.save()
    refresh_snapshot()
    answer = invoke(live_gateway, gateway_setup.secret, {"text": "x" * (CAPTURE_LIMIT + 10), "lang": "fr"})
    assert answer.status_code == 400
    _flushed()
    body = CallBody.objects.get(request_id=answer.headers["X-Request-Id"])
    assert body.request.endswith("more characters not kept]")
    assert "invalid_request" in body.response or "lang" in body.response


def test_a_service_that_does_not_capture_keeps_no_body(live_gateway, gateway_setup, prompt_service):
    answer = invoke(live_gateway, gateway_setup.secret, {"text": "mail jane@example.com"})
    _flushed()
    assert CallLog.objects.filter(request_id=answer.headers["X-Request-Id"]).exists()
    assert not CallBody.objects.exists()
