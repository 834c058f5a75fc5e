"""Every per-service OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator), its references resolve in
the document, its examples match their schemas, and its event stream describes each event. No database."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from apps.catalog.openapi import service_openapi
from tests.catalog.test_docs import NESTED, service

INVOKE = "/api/v1/services/sentiment/invoke"
SELF_REFERENCING = {"type": "object", "properties": {"name": {"type": "string"}, "child": {"$ref": "#"}}}
KINDS = {
    "prompt-json": {},
    "prompt-text": {"output_mode": "text", "output_schema": {}},
    "model": {"kind": "model", "output_mode": "text", "input_schema": {}, "output_schema": {}},
    "deprecated": {"lifecycle": "deprecated"},
    "draft-without-summary": {"lifecycle": "draft", "summary": "", "description": ""},
    "nested-input-with-defs": {"input_schema": NESTED},
    "self-referencing-input": {"input_schema": SELF_REFERENCING, "output_schema": SELF_REFERENCING},
}
VALUES = frozenset({"example", "examples", "const", "enum", "default"})


def document_of(kind: str) -> dict:
    return service_openapi(service(**KINDS[kind]), server_url="https://portal.example")


def references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in VALUES:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document: dict, reference: str):
    assert reference.startswith("#"), reference
    target = document
    for part in reference[2:].split("/") if reference != "#" else ():
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def media_types(document: dict):
    """(JSON pointer of the schema, media type object) of every request and response body."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for media_type, media in operation["requestBody"]["content"].items():
                yield pointer("paths", path, method, "requestBody", "content", media_type, "schema"), media
            for status, response in operation["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    yield pointer("paths", path, method, "responses", status, "content", media_type, "schema"), media


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_service_document_is_valid_openapi_3_1(kind):
    validate(document_of(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_every_reference_resolves_in_the_document(kind):
    document = document_of(kind)
    for reference in references(document):
        resolve(document, reference)


@pytest.mark.parametrize("kind", KINDS)
def test_every_example_matches_its_schema(kind):
    document = document_of(kind)
    examples = 0
    for schema_pointer, media in media_types(document):
        # The document as the root resource, so that its references resolve as a client resolves them.
        validator = Draft202012Validator({**document, "$ref": schema_pointer})
        values = [media["example"]] if "example" in media else []
        values += [example["value"] for example in media.get("examples", {}).values()]
        for value in values:
            validator.validate(value)
            examples += 1
    assert examples >= 3  # the request, the JSON answer and at least one event


def test_the_event_stream_describes_each_event_in_its_schema():
    document = document_of("prompt-json")
    stream = document["paths"][INVOKE]["post"]["responses"]["200"]["content"]["text/event-stream"]
    assert set(stream) == {"schema", "examples"}  # no description beside the schema: 3.1 does not allow it
    assert "data: [DONE]" in stream["schema"]["description"]
    events = [resolve(document, branch["$ref"]) for branch in stream["schema"]["oneOf"]]
    assert [event["properties"].get("type") for event in events] == [{"const": "delta"}, {"const": "done"}, None]
    assert events[0]["required"] == ["type", "text"]
    assert set(events[1]["required"]) == {"type", "usage", "version", "request_id"}
    assert "error" in events[2]["properties"]
    assert [example["value"]["type"] for example in stream["examples"].values()] == ["delta", "done"]


def test_the_stream_parameter_says_which_values_it_takes():
    (parameter,) = document_of("prompt-text")["paths"][INVOKE]["post"]["parameters"]
    assert parameter["name"] == "stream"
    assert parameter["schema"] == {"type": "boolean", "default": False}
    for value in ("`true`", "`1`", "`false`", "`0`", "400"):
        assert value in parameter["description"]


def test_a_model_api_is_documented_as_the_chat_completions_call_it_answers():
    document = document_of("model")
    assert list(document["paths"]) == ["/v1/chat/completions"]
    operation = document["paths"]["/v1/chat/completions"]["post"]
    request = operation["requestBody"]["content"]["application/json"]
    assert request["schema"]["properties"]["model"]["const"] == "sentiment"
    assert "parameters" not in operation
    answer = operation["responses"]["200"]["content"]
    assert answer["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    assert answer["text/event-stream"]["schema"]["oneOf"][0] == {"$ref": "#/components/schemas/ChatCompletionChunk"}


def test_the_services_own_references_are_rebased_into_the_components():
    schemas = document_of("nested-input-with-defs")["components"]["schemas"]
    assert schemas["SentimentInput"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/SentimentInput/$defs/item"
    }
    child = document_of("self-referencing-input")["components"]["schemas"]["SentimentOutput"]["properties"]["child"]
    assert child == {"$ref": "#/components/schemas/SentimentOutput"}


def test_values_and_schemas_with_their_own_id_are_left_as_written():
    own_id = {"$id": "https://schemas.example/item", "$defs": {"a": {}}, "properties": {"x": {"$ref": "#/$defs/a"}}}
    data = {"enum": [{"$ref": "#/not-a-reference"}], "default": {"$ref": "#"}}
    schema = {"type": "object", "properties": {"item": own_id, "data": data}}
    rebased = service_openapi(service(input_schema=schema), server_url="")["components"]["schemas"]["SentimentInput"]
    assert rebased["properties"] == {"item": own_id, "data": data}
