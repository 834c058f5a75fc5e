"""POST /v1/responses through the live app with the official OpenAI SDK and the fake OpenAI upstream: text, streams,
function-call round trips, structured output, previous_response_id (served from what the gateway stored for the
tenant, never another's), retrieval and deletion, the cache on the same skeleton, and refusals naming the
parameter."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest
import redis

from apps.access.services import api_key_issue
from apps.analytics.models import CallLog
from apps.gateway import api, wiring
from apps.gateway.adapters.responses_store import RedisResponseStore
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from tests.conftest import FAKE_KEY
from tests.factories import AppFactory, TenantFactory
from tests.gateway.conftest import _free_port, refresh_snapshot, run

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": None,
}


@pytest.fixture(autouse=True)
def _fresh_response_store():
    """Each test gets its own store (its settings, its memory)."""
    wiring.get_response_store.cache_clear()
    yield
    wiring.get_response_store.cache_clear()


@pytest.fixture
def sdk(gateway_setup, live_gateway, fake_upstream):
    fake_upstream.requests.clear()
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def test_a_response_with_text_is_served_by_the_route(sdk, fake_upstream):
    response = sdk.responses.create(model="smart", input="Say hi", instructions="Be terse.", max_output_tokens=30)

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == fake_upstream.reply  # the SDK's convenience over the output items
    assert response.output[0].type == "message"
    assert response.usage.input_tokens == 4  # the fake counts words: "Be terse." + "Say hi"
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    [received] = fake_upstream.requests
    assert received.path == "/v1/chat/completions"
    assert received.body["model"] == "gpt-4o-mini"
    assert received.body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Say hi"},
    ]
    assert received.body["max_completion_tokens"] == 30
    assert sdk.models.retrieve("smart").id == "smart"


def test_a_streamed_response_sends_the_documented_events(sdk, fake_upstream):
    events = list(sdk.responses.create(model="smart", input="Say hi", stream=True))

    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == fake_upstream.reply
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1].response
    assert completed.output_text == fake_upstream.reply
    assert completed.usage.output_tokens == 4
    assert fake_upstream.requests[-1].body["stream"] is True


def test_the_next_call_with_previous_response_id_sends_the_previous_turn(sdk, fake_upstream):
    first = sdk.responses.create(model="smart", input="My name is Ada.", instructions="Be terse.")
    second = sdk.responses.create(model="smart", input="What is my name?", previous_response_id=first.id)

    assert second.previous_response_id == first.id
    assert fake_upstream.requests[-1].body["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": fake_upstream.reply},
        {"role": "user", "content": "What is my name?"},
    ]  # the instructions are the first call's alone, as OpenAI has it
    assert sdk.responses.retrieve(second.id).output_text == second.output_text


def test_a_function_call_output_goes_back_with_its_call(sdk, fake_upstream):
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
    sdk.responses.create(
        model="smart",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
            call,
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        tools=[WEATHER],
        tool_choice="auto",
    )

    body = fake_upstream.requests[-1].body
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["parameters"]}}
    ]
    assert body["tool_choice"] == "auto"


def test_text_format_json_schema_is_the_upstreams_response_format(sdk, fake_upstream):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    response = sdk.responses.create(
        model="smart",
        input="Name a colour.",
        text={"format": {"type": "json_schema", "name": "colour", "schema": schema, "strict": True}},
    )

    assert fake_upstream.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "colour", "schema": schema, "strict": True},
    }
    assert response.text.format.type == "json_schema"


def _other_tenant_sdk(live_gateway, fake_upstream) -> openai.OpenAI:
    """Tenant `globex` with its own route `smart` on the same fake: only the tenant differs."""
    tenant = TenantFactory(slug="globex")
    _, secret = api_key_issue(app=AppFactory(tenant=tenant, slug="app"), name="k", actor_membership=None)
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="openai",
        name="OpenAI",
        kind="openai",
        base_url=fake_upstream.base_url,
        api_key=FAKE_KEY,
    )
    model = model_create(provider=provider, actor_membership=None, name="gpt-4o-mini", upstream_id="gpt-4o-mini")
    route = route_create(tenant=tenant, actor_membership=None, alias="smart")
    deployment_add(route=route, model=model, actor_membership=None)
    refresh_snapshot()
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=secret, max_retries=0)


def test_another_tenants_response_is_not_found(sdk, live_gateway, fake_upstream):
    mine = sdk.responses.create(model="smart", input="A secret.")
    other = _other_tenant_sdk(live_gateway, fake_upstream)
    calls = len(fake_upstream.requests)

    with pytest.raises(openai.NotFoundError) as refused:
        other.responses.create(model="smart", input="What did I say?", previous_response_id=mine.id)
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"
    assert len(fake_upstream.requests) == calls  # refused before any upstream call
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(mine.id)
    assert sdk.responses.retrieve(mine.id).id == mine.id  # still there for its tenant


def test_store_false_is_not_kept(sdk):
    response = sdk.responses.create(model="smart", input="Forget this.", store=False)

    assert response.store is False
    with pytest.raises(openai.NotFoundError) as refused:
        sdk.responses.create(model="smart", input="And?", previous_response_id=response.id)
    assert refused.value.param == "previous_response_id"


def test_a_deleted_response_is_gone(sdk):
    response = sdk.responses.create(model="smart", input="Hi")
    sdk.responses.delete(response.id)

    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)


def test_redis_keeps_each_response_with_the_retention_as_its_ttl(sdk, settings):
    settings.GATEWAY_RESPONSES_RETENTION_SECONDS = 3600
    wiring.get_response_store.cache_clear()
    response = sdk.responses.create(model="smart", input="Hi")

    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(f"gw:resp:{response.id}")
    assert 3500 < ttl <= 3600


def test_a_hosted_tool_is_a_400_naming_it(sdk, fake_upstream):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model="smart", input="Search.", tools=[WEATHER, {"type": "web_search"}])

    assert refused.value.param == "tools[1].type"
    assert fake_upstream.requests == []


def test_a_bad_key_is_a_401_whatever_the_body(live_gateway):
    answer = httpx.post(f"{live_gateway}/v1/responses", content=b"{nope", headers={"Authorization": "Bearer gwk_x"})

    assert answer.status_code == 401
    assert orjson.loads(answer.content)["error"]["code"] == "invalid_api_key"


def test_the_cache_serves_the_second_identical_response(sdk, gateway_setup, fake_upstream):
    gateway_setup.route.cache_ttl_seconds = 60
    gateway_setup.route.save()
    refresh_snapshot()

    first = sdk.responses.with_raw_response.create(model="smart", input="What is a cache?", temperature=0)
    second = sdk.responses.with_raw_response.create(model="smart", input="What is a cache?", temperature=0)

    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.parse().output_text == first.parse().output_text == fake_upstream.reply
    assert second.parse().id != first.parse().id
    assert len(fake_upstream.requests) == 1
    sdk.responses.retrieve(second.parse().id)  # no model called: not a call
    run(wiring.get_call_sink().flush())
    assert [(log.endpoint, log.cache_hit) for log in CallLog.objects.order_by("created_at")] == [
        ("responses", False),
        ("responses", True),
    ]


def test_a_store_that_cannot_be_reached_costs_the_continuation_not_the_answer(sdk, fake_upstream, monkeypatch):
    down = RedisResponseStore(url=f"redis://127.0.0.1:{_free_port()}/0", retention_seconds=60, timeout=0.5)
    monkeypatch.setattr(api, "get_response_store", lambda: down)

    response = sdk.responses.create(model="smart", input="Hi")
    assert response.output_text == fake_upstream.reply
    with pytest.raises(openai.InternalServerError) as failed:
        sdk.responses.create(model="smart", input="And?", previous_response_id=response.id)

    assert failed.value.status_code == 503
    assert failed.value.code == "response_store_unavailable"
    assert len(fake_upstream.requests) == 1


def test_a_wrong_method_on_a_stored_response_is_a_405_naming_the_right_ones(sdk, live_gateway, gateway_setup):
    response = sdk.responses.create(model="smart", input="Hi")
    headers = {"Authorization": f"Bearer {gateway_setup.secret}"}

    answer = httpx.put(f"{live_gateway}/v1/responses/{response.id}", headers=headers)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, DELETE"
    assert orjson.loads(answer.content)["error"]["code"] == "method_not_allowed"
    assert httpx.get(f"{live_gateway}/v1/responses/{response.id}").status_code == 401  # no key
