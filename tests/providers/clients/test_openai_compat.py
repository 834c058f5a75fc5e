"""OpenAICompatibleClient against the fake OpenAI upstream: what goes on the wire, and what comes back."""

from __future__ import annotations

import asyncio

from apps.providers.clients.base import Upstream, Usage
from apps.providers.clients.openai_compat import OpenAICompatibleClient
from apps.providers.clients.tokens import count_message_tokens, count_tokens
from tests.conftest import FAKE_KEY
from tests.fakes.openai_upstream import FakeOpenAIUpstream

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say this is a test"}]
REPLY = "This is a test."
# The fake counts words: 3 + 5 in the prompt, 4 in the reply.
FAKE_USAGE = Usage(prompt_tokens=8, completion_tokens=4)


def upstream_for(fake: FakeOpenAIUpstream, **options: object) -> Upstream:
    return Upstream(base_url=fake.base_url, api_key=FAKE_KEY, model="gpt-4o-mini", timeout=5, options=options)


async def test_chat_sends_every_parameter_with_the_deployment_model(fake_upstream, openai_client):
    # top_k and guided_json are vLLM extensions: the adapter forwards what it does not know.
    request = {"model": "team-alias", "messages": MESSAGES, "temperature": 0.2, "top_k": 40, "guided_json": {}}

    await openai_client.chat(upstream_for(fake_upstream), request)

    received = fake_upstream.requests[-1]
    assert (received.method, received.path) == ("POST", "/v1/chat/completions")
    assert received.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    assert received.headers["Content-Type"] == "application/json"
    assert received.body == {**request, "model": "gpt-4o-mini"}
    assert request["model"] == "team-alias"  # the caller's dict is left alone


async def test_chat_returns_the_provider_body_and_its_usage(fake_upstream, openai_client):
    result = await openai_client.chat(upstream_for(fake_upstream), {"model": "a", "messages": MESSAGES})

    assert result.body["object"] == "chat.completion"
    assert result.body["id"].startswith("chatcmpl-")
    assert result.body["choices"][0]["message"] == {
        "role": "assistant",
        "content": REPLY,
        "refusal": None,
        "annotations": [],
    }
    assert result.body["usage"]["total_tokens"] == 12
    assert result.usage == FAKE_USAGE


async def test_chat_never_sends_stream_keys(fake_upstream, openai_client):
    # The fake, like OpenAI, rejects stream_options without stream: this would be a 400.
    request = {"model": "a", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}

    result = await openai_client.chat(upstream_for(fake_upstream), request)

    assert "stream" not in fake_upstream.requests[-1].body
    assert "stream_options" not in fake_upstream.requests[-1].body
    assert result.body["object"] == "chat.completion"


async def test_chat_without_provider_usage_estimates_it(fake_upstream, openai_client):
    fake_upstream.mode = "no_usage"

    result = await openai_client.chat(upstream_for(fake_upstream), {"model": "a", "messages": MESSAGES})

    assert "usage" not in result.body
    assert result.usage == Usage(count_message_tokens(MESSAGES), count_tokens(REPLY), estimated=True)


async def test_a_keyless_upstream_gets_no_authorization_header_but_the_extra_headers(openai_client):
    with FakeOpenAIUpstream() as fake:  # a local Ollama: no key
        upstream = Upstream(fake.base_url, api_key="", model="llama3.2", options={"headers": {"X-Team": "blue"}})

        await openai_client.chat(upstream, {"model": "a", "messages": MESSAGES})

        assert "Authorization" not in fake.requests[-1].headers
        assert fake.requests[-1].headers["X-Team"] == "blue"


async def test_stream_always_asks_for_usage_and_yields_the_provider_chunks(fake_upstream, openai_client):
    request = {"model": "a", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": False}}

    stream = openai_client.chat_stream(upstream_for(fake_upstream), request)
    chunks = [chunk async for chunk in stream]

    sent = fake_upstream.requests[-1].body
    assert (sent["model"], sent["stream"], sent["stream_options"]) == ("gpt-4o-mini", True, {"include_usage": True})
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks[:-1]) == REPLY
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 12
    assert stream.usage == FAKE_USAGE


async def test_stream_without_provider_usage_ends_with_an_estimated_usage_chunk(fake_upstream, openai_client):
    fake_upstream.mode = "no_usage"

    stream = openai_client.chat_stream(upstream_for(fake_upstream), {"model": "a", "messages": MESSAGES})
    chunks = [chunk async for chunk in stream]

    estimate = Usage(count_message_tokens(MESSAGES), count_tokens(REPLY), estimated=True)
    assert all(chunk["choices"] for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == estimate.to_openai()
    assert chunks[-1]["id"] == chunks[0]["id"]
    assert stream.usage == estimate


async def test_abandoning_a_stream_early_releases_it(fake_upstream, openai_client):
    stream = openai_client.chat_stream(upstream_for(fake_upstream), {"model": "a", "messages": MESSAGES})
    first = await anext(stream)

    await stream.aclose()

    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert await anext(stream, None) is None
    assert (await openai_client.chat(upstream_for(fake_upstream), {"model": "a", "messages": MESSAGES})).body


async def test_one_pooled_connection_serves_sequential_calls(fake_upstream, openai_client):
    upstream = upstream_for(fake_upstream)
    for _ in range(3):
        await openai_client.chat(upstream, {"model": "a", "messages": MESSAGES})
        assert [chunk async for chunk in openai_client.chat_stream(upstream, {"model": "a", "messages": MESSAGES})]
    await openai_client.list_models(upstream)

    assert len(fake_upstream.requests) == 7
    assert len({request.client_port for request in fake_upstream.requests}) == 1


async def test_embeddings_replace_the_model_and_return_the_provider_body(fake_upstream, openai_client):
    request = {"model": "embed-alias", "input": ["one two", "three"], "encoding_format": "float"}
    upstream = Upstream(fake_upstream.base_url, FAKE_KEY, "text-embedding-3-small")

    result = await openai_client.embeddings(upstream, request)

    received = fake_upstream.requests[-1]
    assert (received.path, received.body) == ("/v1/embeddings", {**request, "model": "text-embedding-3-small"})
    assert [item["index"] for item in result.body["data"]] == [0, 1]
    assert len(result.body["data"][0]["embedding"]) == 8
    assert result.usage == Usage(prompt_tokens=3)


async def test_embeddings_without_provider_usage_are_estimated(fake_upstream, openai_client):
    fake_upstream.mode = "no_usage"

    result = await openai_client.embeddings(upstream_for(fake_upstream), {"model": "e", "input": "one two"})

    assert result.usage == Usage(prompt_tokens=count_tokens("one two"), estimated=True)


async def test_pre_tokenized_embedding_inputs_are_estimated_by_length(fake_upstream, openai_client):
    fake_upstream.mode = "no_usage"

    result = await openai_client.embeddings(upstream_for(fake_upstream), {"model": "e", "input": [[1, 2, 3], [4]]})

    assert result.usage == Usage(prompt_tokens=4, estimated=True)


async def test_list_models_reads_openai_and_vllm_model_lists(fake_upstream, openai_client):
    fake_upstream.models = [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "meta-llama/Llama-3.1-8B", "object": "model", "created": 1, "owned_by": "vllm", "max_model_len": 8192},
    ]

    models = await openai_client.list_models(upstream_for(fake_upstream))

    received = fake_upstream.requests[-1]
    assert (received.method, received.path, received.body) == ("GET", "/v1/models", None)
    assert received.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    assert [(m.id, m.owned_by, m.context_window) for m in models] == [
        ("gpt-4o-mini", "system", None),
        ("meta-llama/Llama-3.1-8B", "vllm", 8192),
    ]


def test_a_client_keeps_working_when_the_event_loop_changes(fake_upstream):
    # Sync callers (management commands, Celery) run each call in a fresh loop with asyncio.run.
    client = OpenAICompatibleClient()
    request = {"model": "a", "messages": MESSAGES}
    first = asyncio.run(client.chat(upstream_for(fake_upstream), request))

    async def second_call_then_close():
        try:
            return await client.chat(upstream_for(fake_upstream), request)
        finally:
            await client.aclose()

    second = asyncio.run(second_call_then_close())

    assert first.usage == second.usage == FAKE_USAGE
