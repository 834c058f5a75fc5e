"""The fake OpenAI upstream itself: the raw bytes other suites rely on, seen through a plain sync client."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.conftest import FAKE_KEY

AUTH = {"Authorization": f"Bearer {FAKE_KEY}"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say this is a test"}]}


def post(fake, path: str, body: object, headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(fake.base_url + path, content=orjson.dumps(body), headers=headers)


def test_a_stream_is_data_events_then_a_usage_chunk_then_done(fake_upstream):
    response = post(
        fake_upstream, "/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    )

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text.endswith("\n\ndata: [DONE]\n\n")
    events = response.text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    chunks = [orjson.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert [chunk["usage"] for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 5 + 4


def test_a_stream_without_include_usage_has_no_usage_at_all(fake_upstream):
    response = post(fake_upstream, "/chat/completions", {**CHAT, "stream": True})

    chunks = [orjson.loads(event.removeprefix("data: ")) for event in response.text.split("\n\n")[:-2]]
    assert all("usage" not in chunk and chunk["choices"] for chunk in chunks)


def test_a_completion_is_the_full_openai_body(fake_upstream):
    body = post(fake_upstream, "/chat/completions", CHAT).json()

    assert set(body) == {"id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CHAT, "stream_options": {"include_usage": True}}, "stream_options"),
        ({"model": "gpt-4o-mini"}, "messages"),
    ],
)
def test_it_rejects_what_openai_rejects_in_its_error_envelope(fake_upstream, body, param):
    response = post(fake_upstream, "/chat/completions", body)

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.json()["error"]["param"] == param


def test_a_missing_key_is_refused(fake_upstream):
    response = post(fake_upstream, "/chat/completions", CHAT, headers={})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_it_records_each_request(fake_upstream):
    post(fake_upstream, "/embeddings", {"model": "text-embedding-3-small", "input": "hi"})
    httpx.get(fake_upstream.base_url + "/models", headers=AUTH)

    first, second = fake_upstream.requests
    assert (first.method, first.path, first.body) == (
        "POST",
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": "hi"},
    )
    assert first.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert (second.method, second.path, second.body) == ("GET", "/v1/models", None)


def test_scripted_modes_apply_in_order_then_the_default_mode(fake_upstream):
    fake_upstream.script("status:503", "status:429:3")

    statuses = [post(fake_upstream, "/chat/completions", CHAT) for _ in range(3)]

    assert [response.status_code for response in statuses] == [503, 429, 200]
    assert statuses[1].headers["retry-after"] == "3"
    assert statuses[1].json()["error"]["type"] == "requests"
