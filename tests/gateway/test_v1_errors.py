"""Bad input and bad keys on /v1 get OpenAI's error envelope with the right status, and the gateway headers."""

from __future__ import annotations

import httpx
import pytest

from apps.access.services import token_revoke
from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def http(gateway_setup, live_gateway):
    with httpx.Client(base_url=f"{live_gateway}/v1", headers={"Authorization": f"Bearer {gateway_setup.secret}"}) as c:
        yield c


def assert_openai_error(response: httpx.Response, status: int, *, param: str | None = None, code: str | None = None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert response.headers["X-Request-Id"].startswith("req_")
    assert "X-Gateway-Overhead-Ms" in response.headers


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "smart"}, "messages"),
        ({"model": "smart", "messages": []}, "messages"),
        ({"model": 42, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "smart", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": "smart", "messages": [{"role": "user"}, {"content": "hi"}]}, "messages[1].role"),
        ({"model": "smart", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({**CHAT, "temperature": 7}, "temperature"),
        ({**CHAT, "temperature": "hot"}, "temperature"),
        ({**CHAT, "stream": "yes please"}, "stream"),
        ({**CHAT, "n": 0}, "n"),
        ({**CHAT, "n": "2"}, "n"),  # types are strict, as OpenAI's: a string never reaches a provider client
        ({**CHAT, "stop": 5}, "stop"),
        ({**CHAT, "response_format": {"type": "xml"}}, "response_format.type"),
        ({**CHAT, "tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        (
            {**CHAT, "tools": [{"type": "custom", "custom": {"name": "sql", "format": {"type": "yaml"}}}]},
            "tools[0].custom.format.type",
        ),
        ({**CHAT, "tool_choice": {"type": "function"}}, "tool_choice.function"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_invalid_chat_bodies_are_400_naming_the_parameter(http, body, param, fake_upstream):
    response = http.post("/chat/completions", json=body)
    assert_openai_error(response, 400, param=param)
    assert fake_upstream.requests == []  # nothing reached the provider


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2, 3]", b'"just a string"', b"", b"\xff\xfe"],
    ids=["malformed", "array", "string", "empty", "binary"],
)
def test_unparseable_bodies_are_400(http, raw):
    response = http.post("/chat/completions", content=raw, headers={"Content-Type": "application/json"})
    assert_openai_error(response, 400)


def test_body_over_the_limit_is_413(http, settings):
    settings.GATEWAY_MAX_BODY_BYTES = 1024
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 2048}]}
    assert_openai_error(http.post("/chat/completions", json=big), 413, code="payload_too_large")


def test_unknown_model_is_404(http):
    assert_openai_error(http.post("/chat/completions", json={**CHAT, "model": "nope"}), 404, code="model_not_found")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer gwk_bad"}, {"Authorization": "Basic abc"}],
    ids=["none", "empty", "malformed", "basic"],
)
def test_missing_or_bad_key_is_401(live_gateway, gateway_setup, headers):
    response = httpx.post(f"{live_gateway}/v1/chat/completions", json=CHAT, headers=headers)
    assert_openai_error(response, 401, code="invalid_api_key")


def test_azure_style_api_key_header_is_accepted(live_gateway, gateway_setup):
    response = httpx.post(f"{live_gateway}/v1/chat/completions", json=CHAT, headers={"api-key": gateway_setup.secret})
    assert response.status_code == 200


def test_revoked_key_stops_working_after_the_snapshot_refresh(http, gateway_setup):
    assert http.get("/models").status_code == 200
    token_revoke(token=gateway_setup.key)
    refresh_snapshot()
    assert_openai_error(http.get("/models"), 401)


def test_key_of_a_deleted_app_is_rejected(http, gateway_setup):
    gateway_setup.app.delete()
    refresh_snapshot()
    assert_openai_error(http.post("/chat/completions", json=CHAT), 401)


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        (
            {**CHAT, "stop": ["a", "b", "c", "d", "e"]},
            "stop",
            "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with "
            "length 5 instead.",
        ),
        (
            {**CHAT, "messages": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
            "messages[0].content[0].type",
            "Invalid value for 'messages[0].content[0].type': 'input_text'. Supported values are: 'text', "
            "'image_url', 'input_audio', 'file' and 'refusal'.",
        ),
        (
            {**CHAT, "tools": [{"type": "retrieval"}]},
            "tools[0].type",
            "Invalid value for 'tools[0].type': 'retrieval'. Supported values are: 'function' and 'custom'.",
        ),
        (
            {**CHAT, "tool_choice": "sometimes"},
            "tool_choice",
            "Invalid value for 'tool_choice': 'sometimes'. Supported values are: 'none', 'auto' and 'required'.",
        ),
        (
            {**CHAT, "temperature": 2.5},
            "temperature",
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            "model",
            "Missing required parameter: 'model'.",
        ),
        (
            {**CHAT, "messages": [{"role": "user", "content": {"text": "hi"}}]},
            "messages[0].content",
            "Invalid type for 'messages[0].content': expected a string or an array, but got an object instead.",
        ),
    ],
    ids=["stop", "input_text", "tool-type", "tool_choice", "bound", "missing", "type"],
)
def test_validation_errors_name_the_parameter_and_say_what_is_wrong_as_openai_does(http, body, param, message):
    response = http.post("/chat/completions", json=body)
    assert_openai_error(response, 400, param=param)
    assert response.json()["error"]["message"] == message


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/completions"), ("GET", "/no/such/endpoint"), ("POST", "/"), ("DELETE", "/models-and-more")],
)
def test_unknown_v1_paths_are_a_404_in_the_envelope(http, method, path):
    response = http.request(method, path, json={})
    assert_openai_error(response, 404, code="unknown_url")
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["message"] == f"Invalid URL ({method} /v1{path})."


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/chat/completions", "POST"),
        ("PUT", "/embeddings", "POST"),
        ("POST", "/models", "GET"),
        ("DELETE", "/models/smart", "GET"),
        ("PATCH", "/models/team/smart", "GET"),
    ],
)
def test_wrong_methods_are_a_405_in_the_envelope_with_allow(http, method, path, allowed):
    response = http.request(method, path)
    assert_openai_error(response, 405, code="method_not_allowed")
    assert response.headers["Allow"] == allowed


def test_a_head_request_gets_the_405_headers(http):
    response = http.head("/chat/completions")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers["Content-Type"] == "application/json"


def test_the_gateway_documents_its_endpoints_not_its_refusals(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/models",
        "/v1/models/{model_id}",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/v1/responses/{response_id}",
    }
    assert {method for path in paths.values() for method in path} == {"get", "post", "delete"}
