"""AzureOpenAIClient against the fake Azure OpenAI upstream: the deployment URLs, api-version, api-key header and
bodies it sends, and the OpenAI-shaped answers, streams, usage, content-filter refusals and errors it gives back."""

from __future__ import annotations

import pytest

from apps.core.netguard import AddressPolicy
from apps.providers.clients.azure_openai import API_VERSION, AzureOpenAIClient
from apps.providers.clients.base import ModelInfo, ProviderError, Upstream
from apps.providers.clients.netguard import OutboundGuard
from tests.fakes.azure_openai_upstream import FakeAzureOpenAIUpstream
from tests.providers.clients.conftest import assert_the_guard_refuses, chunks_before_failure

KEY = "azure-test-key"
HI = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say this is a test"}]


@pytest.fixture
def fake():
    with FakeAzureOpenAIUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
async def client():
    client = AzureOpenAIClient()
    yield client
    await client.aclose()


def upstream_for(fake, deployment: str = "chat", base_url: str | None = None, **options: object) -> Upstream:
    return Upstream(base_url=base_url or fake.base_url, api_key=KEY, model=deployment, timeout=5, options=options)


async def test_chat_calls_the_deployment_with_api_version_and_api_key(fake, client):
    request = {"model": "team-alias", "messages": HI, "temperature": 0.2, "user": "u-1", "seed": 7}

    result = await client.chat(upstream_for(fake), request)

    received = fake.requests[-1]
    assert (received.method, received.path) == ("POST", "/openai/deployments/chat/chat/completions")
    assert received.query == {"api-version": API_VERSION}
    assert received.headers["api-key"] == KEY
    assert received.headers["Content-Type"] == "application/json"
    assert "Authorization" not in received.headers
    assert received.body == {**request, "model": "chat"}  # every parameter forwarded, the deployment as model
    assert result.body["choices"][0]["message"]["content"] == fake.reply
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.estimated) == (7, 4, False)


async def test_the_api_version_option_and_an_endpoint_ending_in_openai(fake, client):
    upstream = upstream_for(fake, base_url=f"{fake.base_url}/openai/", api_version="2024-06-01")

    await client.chat(upstream, {"model": "a", "messages": HI, "stream": False})

    assert fake.requests[-1].path == "/openai/deployments/chat/chat/completions"
    assert fake.requests[-1].query == {"api-version": "2024-06-01"}
    assert "stream" not in fake.requests[-1].body


async def test_stream_asks_for_usage_and_drops_the_prompt_filter_chunk(fake, client):
    stream = client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI, "stream": True})
    chunks = [chunk async for chunk in stream]

    assert fake.requests[-1].body["stream"] is True
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk["choices"] or chunk["usage"] for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == fake.reply
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens, stream.usage.estimated) == (7, 4, False)


async def test_embeddings_go_to_the_deployment(fake, client):
    result = await client.embeddings(upstream_for(fake, "embed"), {"model": "a", "input": ["one two", "three"]})

    received = fake.requests[-1]
    assert (received.path, received.query) == ("/openai/deployments/embed/embeddings", {"api-version": API_VERSION})
    assert received.body == {"model": "embed", "input": ["one two", "three"]}
    assert len(result.body["data"]) == 2
    assert result.usage.prompt_tokens == 3


async def test_a_filtered_prompt_is_a_400_naming_category_and_severity(fake, client):
    fake.script("filter_prompt:hate:high")
    with pytest.raises(ProviderError) as refused:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    error = refused.value
    assert (error.kind, error.retryable, error.status, error.code) == ("bad_request", False, 400, "content_filter")
    assert error.param == "messages"
    assert error.message == "Azure OpenAI's content filter blocked the prompt: hate (severity high)."


async def test_a_filtered_completion_is_a_400_naming_the_reason(fake, client):
    fake.script("filter_completion:sexual:medium")
    with pytest.raises(ProviderError) as refused:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    assert (refused.value.kind, refused.value.retryable, refused.value.code) == ("bad_request", False, "content_filter")
    assert refused.value.message == "Azure OpenAI's content filter blocked the completion: sexual (severity medium)."


async def test_a_stream_filtered_before_its_first_word_is_a_400(fake, client):
    fake.script("filter_completion:self_harm:high")
    stream = client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI})

    received, error = await chunks_before_failure(stream)

    assert received == []  # the role chunk was held back: nothing reached the caller
    assert (error.kind, error.retryable, error.code) == ("bad_request", False, "content_filter")
    assert "self_harm (severity high)" in error.message


async def test_a_stream_filtered_midway_ends_with_azures_finish_chunk(fake, client):
    fake.script("filter_midstream")
    chunks = [chunk async for chunk in client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI})]

    [finish] = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish["finish_reason"] == "content_filter"
    assert finish["content_filter_results"]["violence"] == {"filtered": True, "severity": "medium"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "This is"


@pytest.mark.parametrize(
    ("mode", "deployment", "kind", "retryable"),
    [
        ("ok", "missing", "not_found", False),
        ("status:429:2", "chat", "rate_limited", True),
        ("status:500", "chat", "server_error", True),
    ],
)
async def test_azure_errors_carry_retry_semantics(fake, client, mode, deployment, kind, retryable):
    fake.script(mode)
    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream_for(fake, deployment), {"model": "a", "messages": HI})

    assert (failed.value.kind, failed.value.retryable) == (kind, retryable)
    if kind == "rate_limited":
        assert failed.value.retry_after == 2.0


async def test_a_wrong_key_is_the_deployments_failure_and_never_quoted(fake, client):
    wrong = Upstream(base_url=fake.base_url, api_key="sk-wrong-azure", model="chat", timeout=5)
    with pytest.raises(ProviderError) as refused:
        await client.chat(wrong, {"model": "a", "messages": HI})

    assert (refused.value.kind, refused.value.retryable, refused.value.status) == ("auth", False, 401)
    assert "Access denied" in refused.value.message
    assert "sk-wrong-azure" not in refused.value.message


async def test_models_are_the_resources_deployments_with_their_models(fake, client):
    models = await client.list_models(upstream_for(fake))

    received = fake.requests[-1]
    assert (received.method, received.path, received.query) == (
        "GET",
        "/openai/deployments",
        {"api-version": "2022-12-01"},
    )
    assert received.headers["api-key"] == KEY
    assert models == [
        ModelInfo(id="chat", owned_by="azure", base_model="gpt-4o"),
        ModelInfo(id="embed", owned_by="azure", base_model="text-embedding-3-small"),
        ModelInfo(id="legacy", owned_by="azure", base_model="gpt-35-turbo"),
    ]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (["gpt-4o"], [("gpt-4o", "gpt-4o")]),
        (
            {"prod-chat": "gpt-4o-mini", "vectors": "text-embedding-3-large"},
            [
                ("prod-chat", "gpt-4o-mini"),
                ("vectors", "text-embedding-3-large"),
            ],
        ),
    ],
)
async def test_configured_deployments_are_listed_without_asking(fake, client, configured, expected):
    models = await client.list_models(upstream_for(fake, deployments=configured))

    assert [(m.id, m.base_model) for m in models] == expected
    assert fake.requests == []


async def test_a_malformed_deployment_list_is_refused_naming_the_option(fake, client):
    with pytest.raises(ProviderError) as refused:
        await client.list_models(upstream_for(fake, deployments="gpt-4o"))

    assert refused.value.param == "options.deployments"


async def test_the_outbound_guard_applies(fake):
    guarded = AzureOpenAIClient(guard=OutboundGuard(AddressPolicy.from_entries([]), label="azure"))
    await assert_the_guard_refuses(
        guarded, upstream_for(fake), {"model": "a", "messages": HI}, label="azure", fake=fake
    )


async def test_an_api_version_azure_does_not_serve_is_the_deployments_failure_not_the_callers(fake, client):
    upstream = upstream_for(fake, api_version="2031-01-01")
    with pytest.raises(ProviderError) as refused:
        await client.chat(upstream, {"model": "a", "messages": HI})
    _, streamed = await chunks_before_failure(client.chat_stream(upstream, {"model": "a", "messages": HI}))

    for error in (refused.value, streamed):
        assert (error.kind, error.retryable, error.status) == ("not_found", False, 400)
        assert "API version not supported" in error.message
