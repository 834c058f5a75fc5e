"""The policy seam: every surface runs one request skeleton, and its steps hear their four moments in order,
each admitted step exactly one of after_call / on_failure."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import replace

import pytest

from apps.gateway.pipeline.policies.base import Answer
from apps.gateway.pipeline.snapshot import SubscriptionEntry
from apps.gateway.pipeline.streams import StreamAnswer, replay
from apps.providers.clients.base import Usage
from tests.gateway.pipeline.seam_steps import (
    CACHED,
    LIMIT_HEADERS,
    SERVICE,
    STREAMS,
    SURFACES,
    ZERO,
    CountingEcho,
    RecordingStep,
    cached_answer,
    chat_body,
    events,
    make,
    request,
)

CHAT_SURFACES = [name for name in SURFACES if name != "embeddings"]


def steps(log, **second):
    return [RecordingStep("s1", log), RecordingStep("s2", log, **second), RecordingStep("s3", log)]


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_the_four_moments_in_order_on_every_surface(surface):
    log: list[tuple[str, str]] = []
    client = CountingEcho()
    pipeline, invoker, sink = make(steps(log), client)
    ran = await SURFACES[surface](pipeline, invoker)
    assert ran.status == 200
    assert log == [
        ("s1", "admit"),
        ("s2", "admit"),
        ("s3", "admit"),
        ("s1", "before_call"),
        ("s2", "before_call"),
        ("s3", "before_call"),
        ("s3", "after_call"),
        ("s2", "after_call"),
        ("s1", "after_call"),
    ]
    assert client.calls == 1
    [record] = sink.records
    assert (record.status, record.cache_hit) == (200, False)


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_a_refusal_in_admit_reaches_the_caller_and_only_the_steps_before_it_hear_of_it(surface):
    log: list[tuple[str, str]] = []
    client = CountingEcho()
    pipeline, invoker, sink = make(steps(log, refuse=True), client)
    ran = await SURFACES[surface](pipeline, invoker)
    assert log == [("s1", "admit"), ("s2", "admit"), ("s1", "on_failure")]
    assert client.calls == 0
    assert ran.status == 429
    [record] = sink.records
    assert (record.status, record.error_type) == (429, "requests_per_minute")
    if surface.startswith("run_version"):
        assert ran.body["error"].code == "requests_per_minute"
        return
    assert ran.body["error"]["code"] == "requests_per_minute"
    assert ran.body["error"]["type"] == "rate_limit_error"
    # the error's own headers, and those the steps set before the refusal
    assert ran.headers.items() >= {**LIMIT_HEADERS, "X-Step-s1": "admitted", "X-Step-s2": "admitted"}.items()
    assert ran.headers["X-Request-Id"] == "req_1"


@pytest.mark.parametrize("surface", CHAT_SURFACES)
async def test_an_answer_from_before_call_replaces_the_upstream_call(surface):
    log: list[tuple[str, str]] = []
    client = CountingEcho()
    pipeline, invoker, sink = make(steps(log, answer=cached_answer()), client)
    ran = await SURFACES[surface](pipeline, invoker)
    assert ran.status == 200
    assert client.calls == 0
    assert ("s3", "before_call") not in log  # the steps after the answering one are not asked
    assert log[-3:] == [("s3", "after_call"), ("s2", "after_call"), ("s1", "after_call")]
    [record] = sink.records
    assert (record.status, record.cache_hit, record.cost, record.route) == (200, True, ZERO, "smart")
    assert record.model == "cached-model"
    assert record.policy_outcomes["cache"] == "answered"
    if surface in ("chat", "try-it chat"):
        assert ran.body == CACHED
    elif surface == "chat stream":
        chunks = [event for event in ran.stream if isinstance(event, dict)]
        assert ran.stream[-1] == "[DONE]"
        assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "from the cache"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    elif surface == "invoke":
        assert ran.body["output"] == "from the cache"
    elif surface == "invoke stream":
        assert [e["type"] for e in ran.stream[:-1]] == ["delta", "done"]
        assert ran.stream[0]["text"] == "from the cache"
        assert ran.stream[1]["usage"]["total_tokens"] == 6
    else:
        assert ran.body["output"] == "from the cache"


async def test_an_embeddings_answer_from_before_call_is_the_response():
    body = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}], "model": "e"}
    answer = Answer(body=body, usage=Usage(2, 0), source="cache")
    client = CountingEcho()
    pipeline, _, sink = make([RecordingStep("s1", [], answer=answer)], client)
    response = await pipeline.embeddings(request({"model": "smart", "input": "one two"}))
    assert (response.status, response.body, client.calls) == (200, body, 0)
    assert sink.records[0].cache_hit


async def test_the_cached_stream_keeps_usage_for_include_usage():
    pipeline, _, _ = make([RecordingStep("s1", [], answer=cached_answer())])
    response = await pipeline.chat(request(chat_body(stream=True, stream_options={"include_usage": True})))
    chunks = events([part async for part in response.stream])
    assert chunks[-2]["choices"] == []
    assert chunks[-2]["usage"]["total_tokens"] == 6


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_an_upstream_failure_is_heard_once_by_every_admitted_step(surface):
    log: list[tuple[str, str]] = []
    pipeline, invoker, sink = make(steps(log), CountingEcho(fail=True))
    ran = await SURFACES[surface](pipeline, invoker)
    assert ran.status == 502
    assert log[3:] == [
        ("s1", "before_call"),
        ("s2", "before_call"),
        ("s3", "before_call"),
        ("s3", "on_failure"),
        ("s2", "on_failure"),
        ("s1", "on_failure"),
    ]
    assert sink.records[0].status == 502


@pytest.mark.parametrize("surface", STREAMS)
async def test_a_stream_broken_midway_is_a_failure_heard_once(surface):
    log: list[tuple[str, str]] = []
    step = RecordingStep("s3", log)
    steps = [RecordingStep("s1", log), RecordingStep("s2", log), step]
    pipeline, invoker, sink = make(steps, CountingEcho(fail_midstream=True))
    await SURFACES[surface](pipeline, invoker)
    assert [moment for name, moment in log if name == "s1"] == ["admit", "before_call", "on_failure"]
    assert [moment for _, moment in log].count("on_failure") == 3
    assert "after_call" not in [moment for _, moment in log]
    assert step.seen[0].error.kind == "connect"
    assert sink.records[0].status == 502


async def test_an_abandoned_chat_stream_is_a_failure_heard_once():
    log: list[tuple[str, str]] = []
    pipeline, _, sink = make(steps(log))
    response = await pipeline.chat(request(chat_body(stream=True)))
    async with aclosing(response.stream) as stream:
        await anext(stream)  # the client reads the first event, then goes away
    assert log[-3:] == [("s3", "on_failure"), ("s2", "on_failure"), ("s1", "on_failure")]
    assert [moment for _, moment in log].count("on_failure") == 3
    assert sink.records[0].status == 499


async def test_an_abandoned_invoke_stream_is_a_failure_heard_once():
    log: list[tuple[str, str]] = []
    _, invoker, sink = make(steps(log))
    response = await invoker.invoke(request({"text": "one two three"}), slug="svc", stream=True)
    async with aclosing(response.stream) as stream:
        await anext(stream)
    assert log[-3:] == [("s3", "on_failure"), ("s2", "on_failure"), ("s1", "on_failure")]
    assert sink.records[0].status == 499


async def test_after_call_sees_the_real_usage_cost_and_answer():
    step = RecordingStep("s1", [])
    pipeline, _, sink = make([step])
    response = await pipeline.chat(request(chat_body()))
    [seen], [record] = step.seen, sink.records
    assert seen.answer == response.body
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (record.prompt_tokens, record.completion_tokens)
    assert seen.usage.completion_tokens == 3
    assert seen.cost == record.cost > 0


async def test_after_call_sees_the_invocation_usage_and_the_completion():
    step = RecordingStep("s1", [])
    _, invoker, sink = make([step])
    await invoker.invoke(request({"text": "one two three"}), slug="svc")
    [seen] = step.seen
    assert seen.answer["object"] == "chat.completion"
    assert seen.answer["choices"][0]["message"]["content"] == "one two three"
    assert seen.cost == sink.records[0].cost > 0


@pytest.mark.parametrize("wants", [True, False])
async def test_a_stream_is_assembled_for_after_call_only_when_a_step_asks(wants):
    step = RecordingStep("s1", [], wants_stream_answer=wants)
    pipeline, _, sink = make([step])
    response = await pipeline.chat(request(chat_body(stream=True)))
    [_ async for _ in response.stream]
    [seen], [record] = step.seen, sink.records
    assert seen.usage.completion_tokens == record.completion_tokens == 3
    assert seen.cost == record.cost > 0
    if not wants:
        assert seen.answer is None
        return
    assert seen.answer["object"] == "chat.completion"
    assert seen.answer["choices"][0]["message"]["content"] == "one two three"
    assert seen.answer["choices"][0]["finish_reason"] == "stop"
    assert seen.answer["usage"]["completion_tokens"] == 3


async def test_a_step_failing_in_after_call_does_not_keep_the_others_from_hearing():
    log: list[tuple[str, str]] = []

    class Broken(RecordingStep):
        async def after_call(self, ctx):
            await super().after_call(ctx)
            raise RuntimeError("store down")

    pipeline, _, _ = make([RecordingStep("s1", log), Broken("s2", log)])
    response = await pipeline.chat(request(chat_body()))
    assert response.status == 200
    assert log[-2:] == [("s2", "after_call"), ("s1", "after_call")]


def test_a_replayed_completion_assembles_back_into_the_same_completion():
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
    body = {
        **CACHED,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [tool_call]},
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
    }
    assembled = StreamAnswer()
    for chunk in replay(body, include_usage=True):
        assembled.add(chunk)
    assert assembled.body() == body
    assert replay(body, include_usage=False)[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_assembling_joins_pieces_of_tool_call_arguments():
    assembled = StreamAnswer()
    opening = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
    for delta in (
        {"role": "assistant", "tool_calls": [opening]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
    ):
        assembled.add({"id": "x", "model": "m", "choices": [{"index": 0, "delta": delta}]})
    [call] = assembled.body()["choices"][0]["message"]["tool_calls"]
    assert call == {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}


class BadJsonFirst(CountingEcho):
    """Answers a JSON service's first call with text that is not JSON, then as the echo provider does."""

    async def chat(self, upstream, request):
        result = await super().chat(upstream, request)
        if self.calls == 1:
            result.body["choices"][0]["message"]["content"] = "not json"
        return result


async def test_invokes_json_check_and_retry_are_one_call_for_the_steps():
    log: list[tuple[str, str]] = []
    step = RecordingStep("s1", log)
    client = BadJsonFirst()
    service = replace(SERVICE, output_mode="json", output_schema={"type": "object"})
    _, invoker, sink = make([step], client, service=service)
    response = await invoker.invoke(request({"text": "one two three"}), slug="svc")
    assert response.status == 200
    assert client.calls == 2
    assert log == [("s1", "admit"), ("s1", "before_call"), ("s1", "after_call")]
    [seen], [record] = step.seen, sink.records
    assert seen.usage.prompt_tokens == record.prompt_tokens
    assert record.attempts == 2  # both upstream calls, added up in the one the step saw
    assert seen.cost == record.cost


class ContextStep(RecordingStep):
    async def admit(self, ctx):
        await super().admit(ctx)
        self.ctx = ctx


SUBSCRIPTION = SubscriptionEntry(subscription_id=9, status="approved", expires_at=None, plan_id=3)


async def test_the_context_names_the_caller_the_service_and_the_subscription():
    step = ContextStep("s1", [])
    shared = replace(SERVICE, visibility="public")
    model_api = replace(shared, service_id=6, slug="their-model", kind="model")
    other = {(7, 5): SUBSCRIPTION, (7, 6): SUBSCRIPTION}  # app 7 of tenant 2 subscribed to both
    pipeline, invoker, _ = make([step], services=[shared, model_api], tenant=2, subscriptions=other)

    await invoker.invoke(request({"text": "hi"}), slug="svc")
    ctx = step.ctx
    assert (ctx.tenant_id, ctx.key.app_id, ctx.service.slug, ctx.subscription) == (2, 7, "svc", SUBSCRIPTION)
    assert (ctx.route.alias, ctx.stream, ctx.now) == ("smart", False, ctx.request.received_wall)
    assert ctx.body["messages"] == [{"role": "user", "content": "hi"}]  # the rendered prompt is what goes upstream

    await pipeline.chat(request(chat_body(stream=True) | {"model": "their-model"}))
    ctx = step.ctx
    assert (ctx.tenant_id, ctx.service.slug, ctx.subscription, ctx.stream) == (2, "their-model", SUBSCRIPTION, True)
    assert ctx.route.tenant_id == 1  # the owner's route serves it


async def test_a_run_from_the_portal_has_no_key_and_the_callers_tenant():
    step = ContextStep("s1", [])
    _, invoker, _ = make([step])
    await SURFACES["run_version"](None, invoker)
    assert (step.ctx.key, step.ctx.app_id, step.ctx.tenant_id, step.ctx.subscription) == (None, None, 1, None)


@pytest.mark.parametrize("surface", ["chat", "chat stream", "embeddings", "invoke", "invoke stream"])
async def test_the_steps_headers_go_onto_the_answer(surface):
    pipeline, invoker, _ = make(steps([]))
    ran = await SURFACES[surface](pipeline, invoker)
    assert {ran.headers[f"X-Step-s{n}"] for n in (1, 2, 3)} == {"admitted"}
