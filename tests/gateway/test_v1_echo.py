"""The offline echo route through the live gateway and the official OpenAI SDK: what clients that parse a model's
answer into their own types (the SDK's `parse`, instructor's tool modes, langchain's structured output) need."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Literal

import openai
import pytest
from pydantic import BaseModel, Field

from apps.providers.services import deployment_add, model_create, provider_create, route_create
from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Ship two lamps to Ada"
MESSAGES = [{"role": "user", "content": TEXT}]


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Address(BaseModel):
    street: Annotated[str, Field(min_length=3, max_length=200)]
    country: Literal["FR", "DE"]


class Line(BaseModel):
    sku: str
    quantity: Annotated[int, Field(ge=1, le=10)]
    unit_price: Annotated[float, Field(gt=0)]


class Order(BaseModel):
    """An order to ship."""

    id: uuid.UUID
    customer: str
    placed_at: dt.datetime
    deliver_on: dt.date
    priority: Priority
    gift: bool
    ship_to: Address
    lines: Annotated[list[Line], Field(min_length=1)]
    note: str | None


@pytest.fixture
def sdk(gateway_setup, live_gateway):
    provider = provider_create(
        tenant=gateway_setup.tenant, actor_membership=None, slug="echo", name="Echo", kind="echo", base_url=""
    )
    model = model_create(provider=provider, actor_membership=None, name="echo", upstream_id="echo")
    route = route_create(tenant=gateway_setup.tenant, actor_membership=None, alias="echo")
    deployment_add(route=route, model=model, actor_membership=None)
    refresh_snapshot()
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def test_a_forced_tool_call_parses_into_the_callers_pydantic_model(sdk):
    completion = sdk.chat.completions.parse(
        model="echo",
        messages=MESSAGES,
        tools=[openai.pydantic_function_tool(Order)],
        tool_choice={"type": "function", "function": {"name": "Order"}},
    )

    [call] = completion.choices[0].message.tool_calls
    order = call.function.parsed_arguments
    assert isinstance(order, Order)
    assert order.customer == TEXT
    assert order.lines[0].quantity >= 1
    assert order.ship_to.country == "FR"


def test_a_streamed_tool_call_parses_too(sdk):
    with sdk.chat.completions.stream(
        model="echo", messages=MESSAGES, tools=[openai.pydantic_function_tool(Order)], tool_choice="required"
    ) as stream:
        completion = stream.get_final_completion()

    assert isinstance(completion.choices[0].message.tool_calls[0].function.parsed_arguments, Order)


def test_structured_output_parses_into_the_callers_pydantic_model(sdk):
    completion = sdk.chat.completions.parse(model="echo", messages=MESSAGES, response_format=Order)

    assert isinstance(completion.choices[0].message.parsed, Order)


def test_a_custom_tool_is_called_with_the_text_as_its_input(sdk):
    tool = {"type": "custom", "custom": {"name": "run_sql", "format": {"type": "text"}}}

    completion = sdk.chat.completions.create(
        model="echo", messages=MESSAGES, tools=[tool], tool_choice={"type": "custom", "custom": {"name": "run_sql"}}
    )

    [call] = completion.choices[0].message.tool_calls
    assert (call.type, call.custom.name, call.custom.input) == ("custom", "run_sql", TEXT)
    assert completion.choices[0].finish_reason == "tool_calls"


def test_system_fingerprint_is_a_string_in_answers_and_chunks(sdk):
    completion = sdk.chat.completions.create(model="echo", messages=MESSAGES)
    chunks = list(
        sdk.chat.completions.create(
            model="echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert isinstance(completion.system_fingerprint, str)
    assert {chunk.system_fingerprint for chunk in chunks} == {completion.system_fingerprint}


@pytest.mark.parametrize(
    ("parameters", "param"), [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 3}, "top_logprobs")]
)
@pytest.mark.parametrize("stream", [False, True])
def test_what_echo_cannot_do_is_a_400_naming_the_parameter(sdk, parameters, param, stream):
    with pytest.raises(openai.BadRequestError) as excinfo:
        sdk.chat.completions.create(model="echo", messages=MESSAGES, stream=stream, **parameters)

    assert (excinfo.value.param, excinfo.value.code) == (param, "unsupported_parameter")


def test_one_choice_is_fine(sdk):
    completion = sdk.chat.completions.create(model="echo", messages=MESSAGES, n=1, logprobs=False)

    assert completion.choices[0].message.content == TEXT
