"""The fake Gemini upstream, driven by the official `google-genai` SDK: if the SDK reads its answers, streams,
embeddings, model pages and errors, the fake speaks Google's wire format (the client tests then rely on it)."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.gemini_upstream import FakeGeminiUpstream

KEY = "AIza-test"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters=types.Schema(
        type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}, required=["city"]
    ),
)


@pytest.fixture
def fake():
    with FakeGeminiUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(fake):
    # Held in a variable: the SDK's client closes its connections when garbage-collected.
    client = sdk_for(fake)
    yield client
    client.close()


def sdk_for(fake: FakeGeminiUpstream, key: str = KEY) -> genai.Client:
    # v1beta, as the gateway's client calls it; no retries, so a scripted failure is seen once.
    options = types.HttpOptions(
        base_url=fake.base_url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=key, http_options=options)


def test_sdk_reads_an_answer_with_usage(sdk, fake):
    fake.cached = 2
    answer = sdk.models.generate_content(
        model="gemini-2.5-flash",
        contents="Say hi",
        config=types.GenerateContentConfig(system_instruction="Be terse.", stop_sequences=["never"]),
    )

    assert answer.text == "This is a test."
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    usage = answer.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.cached_content_token_count) == (6, 4, 2)
    received = fake.requests[-1]
    assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert received.headers["x-goog-api-key"] == KEY
    assert received.body["systemInstruction"]["parts"] == [{"text": "Be terse."}]


def test_sdk_streams_text_over_sse(sdk, fake):
    chunks = list(sdk.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hi"))

    assert "".join(chunk.text or "" for chunk in chunks) == "This is a test."
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == 4
    assert fake.requests[-1].query["alt"] == "sse"


def test_sdk_gets_a_forced_function_call_and_sends_its_response(sdk, fake):
    tools = [types.Tool(function_declarations=[WEATHER])]
    forced = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY"))
    answer = sdk.models.generate_content(
        model="gemini-2.5-flash",
        contents="Weather?",
        config=types.GenerateContentConfig(tools=tools, tool_config=forced),
    )
    [call] = answer.function_calls
    assert (call.name, call.args) == ("get_weather", {"city": "test"})

    history = [
        types.Content(role="user", parts=[types.Part(text="Weather?")]),
        answer.candidates[0].content,
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"output": "Sunny"})]
        ),
    ]
    follow_up = sdk.models.generate_content(
        model="gemini-2.5-flash", contents=history, config=types.GenerateContentConfig(tools=tools)
    )
    assert follow_up.text == "This is a test."


def test_sdk_gets_json_matching_its_response_schema(sdk, fake):
    schema = types.Schema(
        type=types.Type.OBJECT, properties={"n": types.Schema(type=types.Type.INTEGER)}, required=["n"]
    )
    answer = sdk.models.generate_content(
        model="gemini-2.5-flash",
        contents="A number",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=schema),
    )
    assert isinstance(answer.parsed, dict)
    assert isinstance(answer.parsed["n"], int)


def test_sdk_embeds_a_batch(sdk, fake):
    result = sdk.models.embed_content(
        model="gemini-embedding-001",
        contents=["one", "two words"],
        config=types.EmbedContentConfig(output_dimensionality=3),
    )
    assert [len(e.values) for e in result.embeddings] == [3, 3]
    assert fake.requests[-1].path.endswith(":batchEmbedContents")


def test_sdk_pages_through_the_model_list(sdk, fake):
    names = [model.name for model in sdk.models.list(config={"page_size": 1})]

    assert names == [model["name"] for model in fake.models]
    assert [r.query.get("pageToken") for r in fake.requests] == [None, "1", "2", "3"]


def test_sdk_raises_googles_errors(sdk, fake):
    fake.script("status:429")
    with pytest.raises(errors.ClientError) as limited:
        sdk.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")

    wrong = sdk_for(fake, key="AIza-wrong")
    with pytest.raises(errors.ClientError) as refused:
        wrong.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
    assert "API key not valid" in refused.value.message


def test_a_schema_keyword_gemini_lacks_is_refused_as_google_refuses_it(sdk, fake):
    tool = {"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "additionalProperties": False}}]}
    with pytest.raises(errors.ClientError, match=r'(?i)Unknown name "additional_?properties"'):
        sdk.models.generate_content(model="gemini-2.5-flash", contents="Hi", config={"tools": [tool]})
