from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.snapshot import Snapshot
from apps.gateway.pipeline.types import GatewayRequest
from apps.providers.clients.base import ProviderError
from apps.providers.clients.echo import EchoClient
from tests.gateway.pipeline.fakes import HmacVerifier, ListSink, StaticConfig, deployment, key, route

KEY = "gwk_abcdefghijkl_" + "s" * 43
OTHER_TENANT_KEY = "gwk_mnopqrstuvwx_" + "t" * 43


class EchoPool:
    def __init__(self, client=None) -> None:
        self.client = client or EchoClient()

    def client_for(self, deployment):
        return self.client


def make_pipeline(*routes, keys=None, client=None):
    snapshot = Snapshot.build(
        version=1, keys=keys or [key(KEY), key(OTHER_TENANT_KEY, tenant_id=2)], routes=list(routes)
    )
    sink = ListSink()
    pipeline = GatewayPipeline(config=StaticConfig(snapshot), keys=HmacVerifier(), clients=EchoPool(client), sink=sink)
    return pipeline, sink


def request(body=None, api_key=KEY) -> GatewayRequest:
    body = body or {"model": "smart", "messages": [{"role": "user", "content": "hello there"}]}
    return GatewayRequest(
        request_id="req_1", api_key=api_key, body=body, received=time.perf_counter(), received_wall=time.time()
    )


async def test_chat_answers_and_records_usage_and_cost():
    pipeline, sink = make_pipeline(route(deployment(1)))
    response = await pipeline.chat(request())
    assert response.status == 200
    assert response.body["choices"][0]["message"]["content"] == "hello there"
    assert response.headers["X-Request-Id"] == "req_1"
    assert float(response.headers["X-Gateway-Overhead-Ms"]) >= 0
    [record] = sink.records
    assert (record.status, record.tenant_id, record.app_id, record.route) == (200, 1, 7, "smart")
    assert record.key_prefix == "gwk_abcdefghijkl"
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    expected = (Decimal(1) * record.prompt_tokens + Decimal(2) * record.completion_tokens) / 1_000_000
    assert record.cost == expected


@pytest.mark.parametrize(
    ("api_key", "status", "code"),
    [
        (None, 401, "invalid_api_key"),
        ("not-a-key", 401, "invalid_api_key"),
        ("gwk_abcdefghijkl_" + "x" * 43, 401, "invalid_api_key"),  # right lookup id, wrong secret
        ("gwk_zzzzzzzzzzzz_" + "s" * 43, 401, "invalid_api_key"),  # unknown lookup id
    ],
)
async def test_bad_keys_are_refused(api_key, status, code):
    pipeline, sink = make_pipeline(route(deployment(1)))
    response = await pipeline.chat(request(api_key=api_key))
    assert response.status == status
    assert response.body["error"]["code"] == code
    assert sink.records[0].status == status


async def test_expired_key_is_refused():
    expired = key(KEY, expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
    pipeline, _ = make_pipeline(route(deployment(1)), keys=[expired])
    response = await pipeline.chat(request())
    assert (response.status, response.body["error"]["code"]) == (401, "expired_api_key")


async def test_key_without_gateway_scope_is_forbidden():
    pipeline, _ = make_pipeline(route(deployment(1)), keys=[key(KEY, scopes=("catalog",))])
    response = await pipeline.chat(request())
    assert response.status == 403


async def test_route_of_another_tenant_is_unknown():
    pipeline, _ = make_pipeline(route(deployment(1), tenant_id=1))
    response = await pipeline.chat(request(api_key=OTHER_TENANT_KEY))
    assert response.status == 404
    assert response.body["error"] == {
        "message": "The model 'smart' does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


async def test_models_lists_only_the_tenants_routes():
    pipeline, _ = make_pipeline(route(deployment(1), alias="a"), route(deployment(2), alias="b", tenant_id=2))
    response = await pipeline.models(request(body={}))
    assert [m["id"] for m in response.body["data"]] == ["a"]


async def test_stream_relays_chunks_then_done_and_records():
    pipeline, sink = make_pipeline(route(deployment(1)))
    body = {"model": "smart", "messages": [{"role": "user", "content": "one two three"}], "stream": True}
    response = await pipeline.chat(request(body))
    assert response.status == 200
    events = [chunk async for chunk in response.stream]
    assert events[-1] == b"data: [DONE]\n\n"
    payloads = [orjson.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in payloads if c["choices"])
    assert text.split() == ["one", "two", "three"]
    assert all(p.get("choices") for p in payloads)  # no usage-only chunk unless include_usage
    [record] = sink.records
    assert record.status == 200
    assert record.stream
    assert record.completion_tokens > 0
    assert record.ttft_ms is not None


async def test_stream_includes_usage_chunk_when_asked():
    pipeline, _ = make_pipeline(route(deployment(1)))
    body = {
        "model": "smart",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = await pipeline.chat(request(body))
    events = [orjson.loads(e.removeprefix(b"data: ")) for e in [c async for c in response.stream][:-1]]
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] > 0


class MidStreamFailure(EchoClient):
    def chat_stream(self, upstream, request):
        inner = super().chat_stream(upstream, request)

        async def chunks():
            first = await anext(inner)
            yield first
            raise ProviderError("connection reset", kind="connect", retryable=True)

        from apps.providers.clients.base import ChatStream

        return ChatStream(chunks(), request)


async def test_midstream_failure_ends_with_an_error_event_and_no_retry():
    pipeline, sink = make_pipeline(route(deployment(1), deployment(2, priority=1)), client=MidStreamFailure())
    body = {"model": "smart", "messages": [{"role": "user", "content": "one two three"}], "stream": True}
    response = await pipeline.chat(request(body))
    events = [c async for c in response.stream]
    assert b"[DONE]" not in events[-1]
    assert orjson.loads(events[-1].removeprefix(b"data: "))["error"]["code"] == "upstream_stream_error"
    [record] = sink.records
    assert record.status == 502
    assert record.attempts == 1
