"""The official OpenAI Python SDK, with only base_url and a portal key changed, works through the gateway."""

from __future__ import annotations

import openai
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from tests.conftest import FAKE_KEY
from tests.factories import TenantFactory
from tests.fakes import openai_wire
from tests.gateway.conftest import refresh_snapshot, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(gateway_setup, live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def test_chat_completion(sdk, fake_upstream):
    raw = sdk.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "Say hi"}], temperature=0.2
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == fake_upstream.reply
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-gateway-overhead-ms"]) >= 0
    [received] = fake_upstream.requests
    assert received.body["model"] == "gpt-4o-mini"  # the alias became the deployment's upstream model
    assert received.body["temperature"] == 0.2
    assert received.headers["Authorization"] == f"Bearer {FAKE_KEY}"  # the provider's key, not the portal's


def test_streaming_chat_completion(sdk, fake_upstream):
    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == fake_upstream.reply
    assert chunks[-1].usage.completion_tokens > 0


def test_embeddings(sdk, fake_upstream):
    result = sdk.embeddings.create(model="smart", input=["one", "two"])
    assert len(result.data) == 2
    assert len(result.data[0].embedding) > 0
    assert fake_upstream.requests[-1].body["model"] == "gpt-4o-mini"


def test_model_list_shows_only_what_the_key_may_call(sdk):
    assert [m.id for m in sdk.models.list()] == ["smart"]


def test_errors_surface_as_sdk_exceptions(sdk, live_gateway):
    with pytest.raises(openai.NotFoundError) as excinfo:
        sdk.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert excinfo.value.code == "model_not_found"
    bad_key = openai.OpenAI(base_url=f"{live_gateway}/v1", api_key="gwk_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()


def test_every_call_is_recorded_with_usage_and_cost(sdk, gateway_setup):
    sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Say hi"}])
    list(sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}], stream=True))
    run(wiring.get_call_sink().flush())
    logs = list(CallLog.objects.order_by("created_at"))
    assert [(log.endpoint, log.stream, log.status) for log in logs] == [("chat", False, 200), ("chat", True, 200)]
    for log in logs:
        assert log.tenant_id == gateway_setup.tenant.pk
        assert log.app_id == gateway_setup.app.pk
        assert log.key_prefix == gateway_setup.key.prefix
        assert log.route == "smart"
        assert log.prompt_tokens > 0
        assert log.completion_tokens > 0
        assert log.cost > 0
        assert log.upstream_ms > 0
    gateway_setup.key.refresh_from_db()
    assert gateway_setup.key.last_used_at is not None


def _add_route(setup, alias: str, tenant=None) -> None:
    """Route `alias` of `tenant` (default: the key's), served by the fake upstream's model."""
    tenant = tenant or setup.tenant
    provider = setup.provider
    if tenant != setup.tenant:
        provider = provider_create(
            tenant=tenant, actor_membership=None, slug="other", name="Other", kind="echo", base_url=""
        )
    model = model_create(provider=provider, actor_membership=None, name=f"m-{alias}", upstream_id="gpt-4o-mini")
    deployment_add(
        route=route_create(tenant=tenant, actor_membership=None, alias=alias), model=model, actor_membership=None
    )
    refresh_snapshot()


def test_retrieve_a_model(sdk, gateway_setup):
    _add_route(gateway_setup, "team/llama3.1:8b")  # aliases may hold slashes: the SDK percent-encodes them

    model = sdk.models.retrieve("smart")
    slashed = sdk.models.retrieve("team/llama3.1:8b")

    assert (model.id, model.object, model.owned_by) == ("smart", "model", "acme")
    assert model.created == int(gateway_setup.route.created_at.timestamp())
    assert slashed.id == "team/llama3.1:8b"
    assert [m.id for m in sdk.models.list()] == ["smart", "team/llama3.1:8b"]


def test_retrieving_an_unknown_or_another_tenants_model_is_the_same_404(sdk, gateway_setup):
    _add_route(gateway_setup, "their-model", tenant=TenantFactory(slug="globex"))
    answers = []
    for model in ("no-such-model", "their-model"):
        with pytest.raises(openai.NotFoundError) as excinfo:
            sdk.models.retrieve(model)
        assert excinfo.value.code == "model_not_found"
        answers.append(excinfo.value.body["message"].replace(model, "?"))
    assert answers[0] == answers[1]  # nothing tells that the other tenant's model exists


def test_unknown_paths_and_wrong_methods_are_sdk_errors_with_the_envelope(sdk):
    with pytest.raises(openai.NotFoundError) as excinfo:
        sdk.post("/completions", body={"model": "smart", "prompt": "hi"}, cast_to=object)
    assert excinfo.value.code == "unknown_url"
    with pytest.raises(openai.APIStatusError) as excinfo:
        sdk.get("/chat/completions", cast_to=object)
    assert excinfo.value.status_code == 405
    assert excinfo.value.code == "method_not_allowed"
    assert excinfo.value.response.headers["Allow"] == "POST"


def test_a_providers_400_reaches_the_sdk_as_the_provider_said_it(sdk, fake_upstream):
    fake_upstream.script("status:400")

    with pytest.raises(openai.BadRequestError) as excinfo:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])

    message, type_, param, code = openai_wire.ERRORS[400]
    assert excinfo.value.body == {"message": message, "type": type_, "param": param, "code": code}


def test_a_providers_400_never_quotes_the_deployments_credential(sdk, fake_upstream):
    # A server that quotes the request's headers in its refusal (some proxies do).
    fake_upstream.errors[400] = (f"Bad header Authorization: Bearer {FAKE_KEY}", "invalid_request_error", None, None)
    fake_upstream.script("status:400")

    with pytest.raises(openai.BadRequestError) as excinfo:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])

    assert FAKE_KEY not in excinfo.value.response.text
    assert excinfo.value.body["message"] == "Bad header Authorization: Bearer [credential]"


CUSTOM_TOOL = {"type": "custom", "custom": {"name": "run_sql", "description": "Runs SQL", "format": {"type": "text"}}}


def test_custom_tools_are_accepted_and_forwarded_unchanged(sdk, fake_upstream):
    tools = [CUSTOM_TOOL, {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}]
    choice = {"type": "custom", "custom": {"name": "run_sql"}}

    sdk.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "x"}], tools=tools, tool_choice=choice
    )

    assert fake_upstream.requests[-1].body["tools"] == tools
    assert fake_upstream.requests[-1].body["tool_choice"] == choice


def test_custom_tools_on_a_server_that_cannot_take_them_are_a_400_naming_the_tool(sdk, fake_upstream):
    fake_upstream.tool_types = {"function"}  # as vLLM or Ollama

    with pytest.raises(openai.BadRequestError) as excinfo:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}], tools=[CUSTOM_TOOL])

    assert excinfo.value.param == "tools[0].type"
    assert fake_upstream.requests[-1].body["tools"] == [CUSTOM_TOOL]  # refused by the server, not dropped on the way
