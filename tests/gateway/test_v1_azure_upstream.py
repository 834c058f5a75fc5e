"""/v1 chat and embeddings served by Azure OpenAI deployments: the official OpenAI SDK, through the live gateway,
against the fake Azure upstream (deployment URLs, api-version, the api-key header, content-filter refusals)."""

from __future__ import annotations

import openai
import pytest

from apps.providers.models import ProviderModel
from tests.fakes.azure_openai_upstream import FakeAzureOpenAIUpstream
from tests.gateway.conftest import sdk_for_provider

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "azure-e2e-key"
HI = [{"role": "user", "content": "Say hi"}]


@pytest.fixture
def fake(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]  # the operator allows the local fake
    with FakeAzureOpenAIUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(transactional_db, fake, live_gateway):
    # The models are imported from the fake resource's deployment list.
    return sdk_for_provider(
        live_gateway,
        fake,
        kind="azure_openai",
        slug="azure",
        name="Azure",
        api_key=KEY,
        routes={"smart": "chat", "vectors": "embed"},
    )


def test_chat_completion_is_served_by_the_deployment(sdk, fake):
    completion = sdk.chat.completions.create(model="smart", messages=HI, max_tokens=20)

    assert completion.choices[0].message.content == fake.reply
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 4)
    [received] = fake.requests
    assert received.path == "/openai/deployments/chat/chat/completions"
    assert received.query == {"api-version": "2024-10-21"}
    assert received.headers["api-key"] == KEY  # the provider's key, not the portal's
    assert "Authorization" not in received.headers
    assert received.body["max_tokens"] == 20


def test_streaming_chat_completion_with_usage(sdk, fake):
    chunks = list(
        sdk.chat.completions.create(model="smart", messages=HI, stream=True, stream_options={"include_usage": True})
    )

    assert all(chunk.choices or chunk.usage for chunk in chunks)  # Azure's prompt-filter chunk is not passed on
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake.reply
    assert chunks[-1].usage.completion_tokens == 4
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}


def test_embeddings_are_served_by_the_embedding_deployment(sdk, fake):
    answer = sdk.embeddings.create(model="vectors", input=["one two", "three"])

    assert len(answer.data) == 2
    assert answer.usage.prompt_tokens == 3
    assert fake.requests[-1].path == "/openai/deployments/embed/embeddings"


def test_a_filtered_prompt_is_a_400_naming_the_category(sdk, fake):
    fake.script("filter_prompt:hate:high")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="smart", messages=HI)

    assert refused.value.status_code == 400
    assert refused.value.code == "content_filter"
    assert refused.value.body["param"] == "messages"
    assert refused.value.body["message"] == "Azure OpenAI's content filter blocked the prompt: hate (severity high)."
    assert len(fake.requests) == 1  # not retried, no failover


def test_a_filtered_completion_is_a_400_naming_the_reason(sdk, fake):
    fake.script("filter_completion:violence:medium")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="smart", messages=HI)

    assert refused.value.code == "content_filter"
    assert "violence (severity medium)" in refused.value.message


def test_a_stream_filtered_before_its_first_word_is_a_400(sdk, fake):
    fake.script("filter_completion:self_harm:high")
    with pytest.raises(openai.BadRequestError) as refused:
        list(sdk.chat.completions.create(model="smart", messages=HI, stream=True))

    assert refused.value.code == "content_filter"
    assert "self_harm (severity high)" in refused.value.message


def test_a_throttled_deployment_is_a_429_for_the_caller(sdk, fake):
    fake.mode = "status:429:0"
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="smart", messages=HI)


def test_deployments_are_imported_priced_by_the_model_they_serve(sdk):
    imported = {m.upstream_id: m for m in ProviderModel.objects.filter(provider__kind="azure_openai")}

    assert set(imported) == {"chat", "embed", "legacy"}
    prices = {name: (str(m.input_price_per_mtok), str(m.output_price_per_mtok)) for name, m in imported.items()}
    assert prices["chat"] == ("2.500000", "10.000000")  # gpt-4o
    assert prices["legacy"] == ("0.500000", "1.500000")  # gpt-35-turbo, Azure's spelling
    assert imported["embed"].modalities == ["embedding"]
