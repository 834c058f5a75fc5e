"""The fake Azure OpenAI upstream, driven by the official `openai` SDK's `AzureOpenAI` client: if the SDK's
requests are the ones it serves, and the SDK reads its answers, streams and errors, the fake speaks Azure's wire
format (the client tests then rely on it)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.azure_openai_upstream import FakeAzureOpenAIUpstream

KEY = "azure-test-key"
VERSION = "2024-10-21"


@pytest.fixture
def fake():
    with FakeAzureOpenAIUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(fake):
    return openai.AzureOpenAI(azure_endpoint=fake.base_url, api_key=KEY, api_version=VERSION, max_retries=0)


def test_sdk_calls_the_deployment_url_with_api_version_and_api_key(sdk, fake):
    completion = sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])

    assert completion.choices[0].message.content == fake.reply
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.usage.prompt_tokens == 1
    [received] = fake.requests
    assert (received.method, received.path) == ("POST", "/openai/deployments/chat/chat/completions")
    assert received.query == {"api-version": VERSION}
    assert received.headers["api-key"] == KEY
    assert "Authorization" not in received.headers
    assert received.body["model"] == "chat"


def test_sdk_streams_with_the_prompt_filter_chunk_and_usage(sdk, fake):
    chunks = list(
        sdk.chat.completions.create(
            model="chat",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[0].choices == []  # Azure's prompt_filter_results comes first
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake.reply
    assert chunks[-1].usage.completion_tokens == 4


def test_sdk_embeds_through_the_deployment(sdk, fake):
    answer = sdk.embeddings.create(model="embed", input=["a", "b"])

    assert len(answer.data) == 2
    assert fake.requests[-1].path == "/openai/deployments/embed/embeddings"


def test_sdk_raises_azure_errors(sdk, fake):
    fake.script("filter_prompt:violence:high")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.code == "content_filter"
    assert refused.value.body["innererror"]["content_filter_result"]["violence"] == {
        "filtered": True,
        "severity": "high",
    }
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "Hi"}])
    assert unknown.value.code == "DeploymentNotFound"
    wrong = openai.AzureOpenAI(azure_endpoint=fake.base_url, api_key="wrong", api_version=VERSION, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])


def test_sdk_reads_a_filtered_completion(sdk, fake):
    fake.script("filter_completion:sexual:medium")
    completion = sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])

    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].content_filter_results["sexual"]["severity"] == "medium"


def test_api_version_is_required_and_checked(fake):
    url = f"{fake.base_url}/openai/deployments/chat/chat/completions"
    body = {"messages": [{"role": "user", "content": "Hi"}]}

    missing = httpx.post(url, json=body, headers={"api-key": KEY})
    unknown = httpx.post(url, params={"api-version": "2031-01-01"}, json=body, headers={"api-key": KEY})

    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "Resource not found")
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (400, "API version not supported")


def test_the_deployment_list_answers_in_its_api_version_only(fake):
    listed = httpx.get(
        f"{fake.base_url}/openai/deployments", params={"api-version": "2022-12-01"}, headers={"api-key": KEY}
    )
    newer = httpx.get(f"{fake.base_url}/openai/deployments", params={"api-version": VERSION}, headers={"api-key": KEY})

    assert {item["id"]: item["model"] for item in listed.json()["data"]} == fake.deployments
    assert newer.status_code == 404
