"""GET /metrics: what real calls through the gateway add up to, the circuit breaker gauge, several worker processes
merged into one exposition, and who may read which samples.

The default registry is the process's (every test of the session records into it), so these tests compare what a
scrape shows before and after, or read a multiprocess directory of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from ipaddress import ip_network
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from apps.access.services import personal_token_issue
from apps.analytics.metrics import metrics_exposition
from apps.analytics.services.ingest import stream_group_ensure
from apps.gateway.adapters.metrics_sink import MetricsCallSink, SnapshotLabels
from apps.gateway.pipeline.snapshot import EMPTY_SNAPSHOT
from apps.providers.services import route_update
from tests.analytics.record_calls import ACME_DEPLOYMENT, GLOBEX_DEPLOYMENT, SUMMARY_SERVICE, chat_call, metrics_sink

# The data-plane fixtures: the autouse _fresh_gateway gives each test its own pipeline (breakers, snapshot).
from tests.gateway.conftest import _fresh_gateway, gateway_setup, live_gateway, refresh_snapshot  # noqa: F401

OPERATOR_TOKEN = "operator-scrape-token"
OUTSIDE = "203.0.113.7"  # an address outside METRICS_ALLOWED_IPS
CHAT = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = OPERATOR_TOKEN
    settings.METRICS_ALLOWED_IPS = [ip_network("127.0.0.1/32"), ip_network("::1/128")]
    settings.PROMETHEUS_MULTIPROC_DIR = ""  # this process's registry, whatever the environment says


def scrape(client, *, token: str | None = OPERATOR_TOKEN, address: str = OUTSIDE):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers, REMOTE_ADDR=address)


def parse(exposition: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value}"""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def samples(response) -> dict[tuple[str, frozenset], float]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return parse(response.content.decode())


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def calls(tenant="acme", service="", model="gpt-4o-mini", endpoint="chat", **extra: str) -> dict[str, str]:
    """The labels of a call series (acme's own route `smart`: no service)."""
    return {"tenant": tenant, "service": service, "model": model, "endpoint": endpoint, **extra}


def usage(tenant="acme", service="", model="gpt-4o-mini", **extra: str) -> dict[str, str]:
    return {"tenant": tenant, "service": service, "model": model, **extra}


def usage_of_stream(text: str) -> dict:
    events = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: {")]
    return next(orjson.loads(event)["usage"] for event in reversed(events) if orjson.loads(event).get("usage"))


@pytest.mark.django_db(transaction=True)
def test_calls_through_the_gateway_add_up(client, gateway_setup, live_gateway, fake_upstream):  # noqa: F811
    before = samples(scrape(client))
    with httpx.Client(base_url=f"{live_gateway}/v1", timeout=30) as http:
        auth = {"Authorization": f"Bearer {gateway_setup.secret}"}
        answers = [http.post("/chat/completions", json=CHAT, headers=auth) for _ in range(3)]
        streamed = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
        stream = http.post("/chat/completions", json=streamed, headers=auth)  # read to its end: recorded by then
        unknown_model = http.post("/chat/completions", json={**CHAT, "model": "no-such-model"}, headers=auth)
        fake_upstream.script("status:500", "status:500")  # the first try and its retry
        upstream_failure = http.post("/chat/completions", json=CHAT, headers=auth)
        no_key = http.post("/chat/completions", json=CHAT)
    assert [a.status_code for a in answers] + [stream.status_code] == [200] * 4
    assert (unknown_model.status_code, upstream_failure.status_code, no_key.status_code) == (404, 502, 401)
    after = samples(scrape(client))

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    usages = [a.json()["usage"] for a in answers] + [usage_of_stream(stream.text)]
    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    assert delta("gateway_requests_total", **calls(status="200")) == 4
    assert delta("gateway_requests_total", **calls(model="", status="404")) == 1
    assert delta("gateway_requests_total", **calls(status="502")) == 1
    assert delta("gateway_requests_total", **calls(tenant="", model="", status="401")) == 1
    assert delta("gateway_request_duration_seconds_count", **calls()) == 5
    assert delta("gateway_overhead_seconds_count", tenant="acme", endpoint="chat") == 6
    assert delta("gateway_time_to_first_token_seconds_count", **calls()) == 1
    assert delta("gateway_tokens_total", **usage(direction="prompt")) == prompt
    assert delta("gateway_tokens_total", **usage(direction="completion")) == completion
    expected_cost = (Decimal("0.15") * prompt + Decimal("0.60") * completion) / 1_000_000
    assert delta("gateway_cost_usd_total", **usage()) == pytest.approx(float(expected_cost))
    upstream_errors = {"tenant": "acme", "provider": "fake-openai", "error_type": "upstream_error"}
    assert delta("gateway_upstream_errors_total", **upstream_errors) == 1


@pytest.mark.django_db(transaction=True)
def test_the_breaker_gauge_follows_the_deployment_breaker(
    client,
    gateway_setup,  # noqa: F811
    live_gateway,  # noqa: F811
    fake_upstream,
    settings,
):
    settings.GATEWAY_BREAKER_COOLDOWN_SECONDS = 0.2
    route_update(route=gateway_setup.route, actor_membership=None, data={"retries": 0})
    refresh_snapshot()
    breaker = {"tenant": "acme", "provider": "fake-openai", "deployment": "smart/gpt-4o-mini"}

    def gauge() -> float:
        return value(samples(scrape(client)), "gateway_breaker_open", **breaker)

    auth = {"Authorization": f"Bearer {gateway_setup.secret}"}
    with httpx.Client(base_url=f"{live_gateway}/v1", headers=auth) as http:

        def fail_until_open() -> None:
            fake_upstream.mode = "status:500"
            for _ in range(settings.GATEWAY_BREAKER_THRESHOLD):
                assert http.post("/chat/completions", json=CHAT).status_code == 502

        fail_until_open()
        assert gauge() == 1
        fake_upstream.mode = "ok"
        time.sleep(settings.GATEWAY_BREAKER_COOLDOWN_SECONDS)
        assert http.post("/chat/completions", json=CHAT).status_code == 200  # the probe closes it
        assert gauge() == 0
        fail_until_open()  # from 0 to 1, whatever an earlier test of this process left in the gauge
        assert gauge() == 1


def test_the_samples_of_several_processes_are_merged(client, settings, tmp_path):
    """Two worker processes record into one directory; the exposition sums their counters and takes the highest
    breaker state of the processes still alive."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = [sys.executable, "-m", "tests.analytics.record_calls"]  # our own interpreter and module
    opened = subprocess.Popen([*worker, "--calls", "3", "--open-breaker"], cwd=ROOT, env=env)  # noqa: S603
    closed = subprocess.Popen([*worker, "--calls", "5"], cwd=ROOT, env=env)  # noqa: S603
    assert (opened.wait(timeout=60), closed.wait(timeout=60)) == (0, 0)
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    merged = samples(scrape(client))
    assert value(merged, "gateway_requests_total", **calls(status="200")) == 8
    assert value(merged, "gateway_request_duration_seconds_count", **calls()) == 8
    assert value(merged, "gateway_tokens_total", **usage(direction="prompt")) == 80
    assert value(merged, "gateway_cost_usd_total", **usage()) == pytest.approx(8 * 0.0000045)
    breaker = {"tenant": "acme", "provider": "acme-openai", "deployment": "smart/gpt-4o-mini"}
    assert value(merged, "gateway_breaker_open", **breaker) == 1  # open in one of the two

    mark_process_dead(opened.pid, str(tmp_path))  # what the ASGI lifespan does when a worker stops
    after_exit = samples(scrape(client))
    assert value(after_exit, "gateway_breaker_open", **breaker) == 0
    assert value(after_exit, "gateway_requests_total", **calls(status="200")) == 8  # counters outlive a process


class RecordingSink:
    def __init__(self) -> None:
        self.records: list = []
        self.closed = False

    def emit(self, record) -> None:
        self.records.append(record)

    async def flush(self) -> int:
        return len(self.records)

    async def aclose(self) -> None:
        self.closed = True


async def test_the_metrics_sink_hands_on_every_record_and_the_shutdown():
    inner = RecordingSink()
    sink = MetricsCallSink(inner, labels=SnapshotLabels(lambda: EMPTY_SNAPSHOT))
    records = [chat_call(None, None, status=401), chat_call(7, 99)]  # ids the snapshot does not know: labels ""
    for record in records:
        sink.emit(record)
    assert inner.records == records
    assert await sink.flush() == 2
    await sink.aclose()
    assert inner.closed


def test_the_caller_of_another_tenants_service_sees_the_service_not_the_model_behind_it():
    sink = metrics_sink(acme_id=1, globex_id=2)
    before = parse(metrics_exposition().decode())
    sink.emit(chat_call(2, ACME_DEPLOYMENT, endpoint="invoke", service_id=SUMMARY_SERVICE))
    sink.emit(chat_call(1, ACME_DEPLOYMENT, endpoint="invoke", service_id=SUMMARY_SERVICE))
    after = parse(metrics_exposition().decode())
    for caller, model in (("globex", ""), ("acme", "gpt-4o-mini")):
        labels = calls(tenant=caller, service="summary", model=model, endpoint="invoke", status="200")
        assert value(after, "gateway_requests_total", **labels) - value(before, "gateway_requests_total", **labels) == 1


@pytest.fixture
def recorded_calls(tenant, other_tenant):
    """Calls of `acme` and `globex` (each with an upstream failure and an open breaker) and one without a key."""
    sink = metrics_sink(acme_id=tenant.pk, globex_id=other_tenant.pk)
    for tenant_id, deployment in ((tenant.pk, ACME_DEPLOYMENT), (other_tenant.pk, GLOBEX_DEPLOYMENT)):
        sink.emit(chat_call(tenant_id, deployment, prompt_tokens=10, completion_tokens=5, cost=Decimal("0.000005")))
        sink.emit(chat_call(tenant_id, deployment, status=502, error_type="upstream_error"))
        sink.breaker_changed(deployment, "open")
    sink.emit(chat_call(None, None, status=401, error_type="invalid_api_key"))


@pytest.fixture
def credentials(owner, mallory):
    return {
        None: None,
        "operator": OPERATOR_TOKEN,
        "wrong": "not-the-operator-token",
        "acme member": personal_token_issue(user=owner, name="scrape")[1],
        "mallory": personal_token_issue(user=mallory, name="scrape")[1],
        "unknown personal token": "gwp_abcdefgh_" + "x" * 40,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("credential", "address", "sees"),
    [
        (None, OUTSIDE, None),
        ("wrong", OUTSIDE, None),
        ("wrong", "127.0.0.1", None),  # a presented credential decides, whatever the address
        ("unknown personal token", OUTSIDE, None),
        ("operator", OUTSIDE, {"acme", "globex", ""}),
        (None, "127.0.0.1", {"acme", "globex", ""}),
        (None, "::ffff:127.0.0.1", {"acme", "globex", ""}),
        ("acme member", OUTSIDE, {"acme"}),
        ("acme member", "127.0.0.1", {"acme"}),
        ("mallory", OUTSIDE, {"globex"}),
    ],
)
def test_who_reads_which_samples(client, recorded_calls, credentials, credential, address, sees):
    response = scrape(client, token=credentials[credential], address=address)
    if sees is None:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        return
    scraped = samples(response)
    tenants = {dict(labels).get("tenant") for (name, labels) in scraped if name.startswith("gateway_")}
    assert tenants >= sees
    if len(sees) == 1:  # a tenant's view: its own samples and nothing else, not even the process_* ones
        assert tenants == sees
        assert all(dict(labels).get("tenant") in sees for (_, labels) in scraped)
        other = "globex" if sees == {"acme"} else "acme"
        assert other not in {label for (_, labels) in scraped for (_, label) in labels}
        assert f"{other}-openai" not in response.content.decode()  # the other tenant's provider, breaker, errors


def test_a_scheme_other_than_bearer_is_refused(client):
    response = client.get("/metrics", headers={"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 401


@pytest.mark.django_db
def test_operators_see_how_far_the_workers_are_behind_the_call_stream(client, settings, owner):
    settings.GATEWAY_CALL_SINK = "redis"
    settings.ANALYTICS_CALL_STREAM = stream = f"test-{os.getpid()}-{time.time_ns()}:calls"
    client_redis = redis.Redis.from_url(settings.REDIS_URL)
    try:
        stream_group_ensure(client_redis, stream, settings.ANALYTICS_CALL_STREAM_GROUP)
        for _ in range(3):
            client_redis.xadd(stream, {"r": b"[]"})
        client_redis.xreadgroup(settings.ANALYTICS_CALL_STREAM_GROUP, "reader", {stream: ">"}, count=1)
        scraped = samples(scrape(client))
        assert value(scraped, "gateway_call_stream_entries") == 3
        assert value(scraped, "gateway_call_stream_pending") == 1
        member = personal_token_issue(user=owner, name="scrape")[1]
        assert "gateway_call_stream" not in scrape(client, token=member).content.decode()
    finally:
        client_redis.delete(stream)
