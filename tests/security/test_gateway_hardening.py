"""Issue 10, the data plane's error paths on /v1: a worker that stays responsive while a huge prompt is counted,
a circuit-breaker probe given back when its client leaves, the key checked before the body, failures answered
in the envelope (never HTML or a traceback), providers named to callers but their addresses kept for operators,
and the gateway's overhead measured from the request's arrival."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import httpx
import orjson
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.providers.clients import tokens
from apps.providers.clients.base import Upstream
from apps.providers.clients.echo import EchoClient
from apps.providers.models import Provider
from apps.providers.services import deployment_add, model_create, provider_create, route_create, route_update
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import refresh_snapshot

# The data plane's fixtures (tests/gateway/conftest.py): a fresh pipeline per test, a tenant with a key and a route
# on the fake upstream, the portal's ASGI application under uvicorn.
_fresh_gateway = gateway_fixtures._fresh_gateway
gateway_setup = gateway_fixtures.gateway_setup
live_gateway = gateway_fixtures.live_gateway

CHAT = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}
db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(gateway_setup, live_gateway):
    headers = {"Authorization": f"Bearer {gateway_setup.secret}"}
    with httpx.Client(base_url=f"{live_gateway}/v1", headers=headers, timeout=60) as client:
        yield client


def echo_route(setup, alias: str, **options) -> None:
    provider = provider_create(
        tenant=setup.tenant, actor_membership=None, slug=alias, name=alias, kind="echo", options=options
    )
    model = model_create(provider=provider, actor_membership=None, name=alias, upstream_id="echo")
    deployment_add(
        route=route_create(tenant=setup.tenant, actor_membership=None, alias=alias), model=model, actor_membership=None
    )
    refresh_snapshot()


def assert_envelope(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["X-Request-Id"].startswith("req_")
    return error


# --- 6. counting tokens never stalls the worker -------------------------------------------------------------


async def test_a_long_prompt_is_counted_while_the_event_loop_goes_on():
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    upstream = Upstream(base_url="", api_key="", model="echo")
    result = await EchoClient().chat(upstream, {"messages": [{"role": "user", "content": "lorem ipsum " * 100_000}]})
    during = ticks - before
    stop.set()
    await task

    assert result.usage.prompt_tokens > 100_000
    assert during > 0  # other tasks ran while it was counted


def test_a_texts_count_past_the_exact_limit_is_close_to_the_exact_count():
    words = "The quick brown fox jumps over the lazy dog; 1234 jumps, then 56 naps! "
    text = "".join(f"{words}{n} " for n in range(8_000))  # ~600,000 characters

    exact = len(tokens._encoding().encode_ordinary(text))

    assert len(text) > tokens._EXACT_CHARS
    assert tokens.count_tokens(text) == pytest.approx(exact, rel=0.02)


@db
def test_a_huge_prompt_does_not_hold_up_the_requests_of_other_callers(http, gateway_setup):
    echo_route(gateway_setup, "slow", delay_ms=100)
    words = " ".join(f"w{n}" for n in range(10))  # ~1 s of streaming, then the prompt's usage is counted
    body = {
        "model": "slow",
        "stream": True,
        "messages": [{"role": "system", "content": "x" * 6_000_000}, {"role": "user", "content": words}],
    }
    big: dict[str, float] = {}

    def big_request() -> None:
        started = time.monotonic()
        with http.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200
            assert response.read().endswith(b"data: [DONE]\n\n")
        big["took"] = time.monotonic() - started

    thread = threading.Thread(target=big_request)
    thread.start()
    waits = []
    while thread.is_alive():
        started = time.monotonic()
        assert http.get("/models").status_code == 200
        waits.append(time.monotonic() - started)
    thread.join()

    assert len(waits) > 1
    # While the big request ran (counting included), each other request waited a small part of its time.
    assert max(waits) < big["took"] / 4, (max(waits), big["took"])


# --- 8. the circuit breaker's probe, and 503s that say when to come back -------------------------------------


@db
def test_a_probe_abandoned_by_its_client_frees_the_deployment_at_once(http, fake_upstream, gateway_setup, settings):
    settings.GATEWAY_BREAKER_THRESHOLD = 1
    settings.GATEWAY_BREAKER_COOLDOWN_SECONDS = 3.0
    route_update(route=gateway_setup.route, actor_membership=None, data={"retries": 0})
    refresh_snapshot()
    fake_upstream.script("status:500")
    assert http.post("/chat/completions", json=CHAT).status_code == 502  # the breaker opens

    cooling = http.post("/chat/completions", json=CHAT)
    assert_envelope(cooling, 503)
    assert 1 <= int(cooling.headers["Retry-After"]) <= 3

    time.sleep(3.1)  # cooled down: the next request is the probe
    fake_upstream.script("hang")
    with pytest.raises(httpx.ReadTimeout):
        http.post("/chat/completions", json=CHAT, timeout=0.5)  # ... and its client leaves

    # The upstream answers again; without the probe's slot given back, it stayed out for another cooldown.
    statuses = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and 200 not in statuses:
        statuses.append(http.post("/chat/completions", json=CHAT).status_code)
    assert statuses[-1] == 200, statuses


# --- 9. never outside the envelope --------------------------------------------------------------------------


@db
@pytest.mark.parametrize("stream", [False, True])
def test_an_unexpected_failure_is_a_500_in_the_envelope_logged_once_with_the_request_id(
    http, gateway_setup, caplog, stream
):
    # A provider of a kind this version no longer has (a row left from an older one): the gateway itself fails.
    Provider.objects.filter(pk=gateway_setup.provider.pk).update(kind="retired-kind")
    refresh_snapshot()

    with caplog.at_level(logging.INFO):
        response = http.post("/chat/completions", json={**CHAT, "stream": stream})

    error = assert_envelope(response, 500)
    request_id = response.headers["X-Request-Id"]
    assert (error["type"], error["code"]) == ("server_error", "internal_error")
    assert request_id in error["message"]
    assert "Traceback" not in response.text
    assert "retired-kind" not in response.text
    [logged] = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert request_id in logged.getMessage()
    assert logged.exc_info is not None  # the traceback is in the log, once


# --- 11. the key before the body ----------------------------------------------------------------------------


@db
@pytest.mark.parametrize("body", [b"{}", b"{not json", b'{"model": "smart"}', b'{"model": 5, "messages": []}'])
@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
def test_a_bad_key_is_a_401_whatever_the_body(live_gateway, gateway_setup, body, path):
    response = httpx.post(
        f"{live_gateway}/v1{path}",
        content=body,
        headers={"Authorization": "Bearer gwk_bad_key", "Content-Type": "application/json"},
    )

    assert assert_envelope(response, 401)["code"] == "invalid_api_key"


@db
def test_a_good_key_with_a_bad_body_is_a_400_recorded_for_its_app(http, gateway_setup):
    error = assert_envelope(http.post("/chat/completions", json={}), 400)
    asyncio.run(wiring.get_call_sink().flush())

    assert error["param"] == "model"
    [log] = CallLog.objects.all()
    assert (log.status, log.app_id, log.endpoint) == (400, gateway_setup.app.pk, "chat")


# --- 12. the provider named, its address kept for operators --------------------------------------------------


@db
def test_an_upstream_failure_names_the_provider_not_its_address(http, fake_upstream, caplog):
    fake_upstream.mode = "reset"

    with caplog.at_level(logging.WARNING):
        response = http.post("/chat/completions", json=CHAT)

    error = assert_envelope(response, 502)
    assert error["message"] == "No deployment of 'smart' could answer: provider 'fake-openai' could not be reached."
    assert str(fake_upstream.port) not in response.text
    details = [
        record.getMessage() for record in caplog.records if response.headers["X-Request-Id"] in record.getMessage()
    ]
    assert any(fake_upstream.base_url in line for line in details)  # the operators' log has the address


@db
def test_a_stream_that_fails_midway_names_the_provider_not_its_address(http, fake_upstream):
    fake_upstream.script("midstream_fail")

    with http.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]

    error = orjson.loads(events[-1][6:])["error"]
    assert error["code"] == "upstream_stream_error"
    assert "'fake-openai'" in error["message"]
    assert str(fake_upstream.port) not in error["message"]


# --- 14a. the overhead of an error counts from the request's arrival ------------------------------------------


@db
def test_the_overhead_of_a_refused_body_includes_reading_it(http):
    body = {"model": "smart", "messages": [{"role": "user", "content": "x " * 4_000_000}], "n": "two"}

    response = http.post("/chat/completions", json=body)

    assert_envelope(response, 400)
    overhead = float(response.headers["X-Gateway-Overhead-Ms"]) / 1000
    took = response.elapsed.total_seconds()
    # Parsing and validating 8 MB takes milliseconds on any machine; measured from inside the error handler (the
    # bug) it read ~0.01 ms. No upper bound but the client's own: a loaded machine only makes both larger.
    assert 0.002 < overhead <= took, (overhead, took)
