"""The OpenAPI 3.1 document of one service, generated from its input and output schemas (pure: no Django).

A prompt API has one operation, `POST /api/v1/services/<slug>/invoke`: its input schema is the request body, the
answer is {"output", "usage", "version", "request_id"}, and `?stream=true` answers with server-sent events. A model
API is called through the OpenAI-compatible `POST /v1/chat/completions` with `model=<slug>`.

The service's own schemas sit under components/schemas with their local `$ref`s rebased there: in an OpenAPI
document a `$ref` resolves against the document, not against the schema it was written in."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Protocol

from apps.catalog.docs import example_body, example_value

OPENAPI_VERSION = "3.1.0"
SCHEMAS = "#/components/schemas/"
STREAM_VALUES = "`true` or `1` streams, `false` or `0` answers JSON (letter case does not matter)"
ERRORS = {
    "400": "The body is not JSON or does not match the input schema (`error.fields` names each field at fault), "
    "or `stream` is not one of true, false, 1, 0 (`error.param` is `stream`).",
    "401": "No API key, or an unknown, expired or revoked one.",
    "403": "The key lacks the `gateway` scope, or its app has no approved subscription to this service.",
    "404": "No such service, or it is not visible to the key's tenant.",
    "409": "The service is a draft, or has no live prompt version or no enabled deployment.",
    "413": "The body is larger than the gateway accepts.",
    "429": "A rate limit, quota or budget of the subscription's plan is used up; retry later.",
    "502": "The model provider failed to answer, or (JSON output) twice answered outside the output schema.",
    "503": "Every deployment of the service's route is cooling down after failures; retry later.",
    "504": "The model provider did not answer within the route's deadline.",
}
CHAT_ERRORS = {
    "400": "The body is not a valid chat completion request; `error.param` names the parameter at fault.",
    "401": ERRORS["401"],
    "403": "The key lacks the `gateway` scope.",
    "404": "The key's app has no approved subscription to this model API, or it is not visible to the key's tenant.",
    "413": ERRORS["413"],
    "429": ERRORS["429"],
    "502": "The model provider failed to answer.",
    "503": ERRORS["503"],
    "504": ERRORS["504"],
}
INVOKE_STREAM = (
    "Server-sent events, with `?stream=true`. Each event is one `data:` line holding one of these JSON objects: "
    "a `delta` event for each next part of the output (joined, the parts are the output's text), then one `done` "
    "event with the usage, the prompt version and the request id; the stream then ends with `data: [DONE]`. An "
    "upstream failure after the first event ends the stream with an error object instead of the `done` event."
)
CHAT_STREAM = (
    'Server-sent events, with `"stream": true` in the body. Each event is one `data:` line holding a '
    "`chat.completion.chunk` object as OpenAI sends it; the stream ends with `data: [DONE]`. An upstream failure "
    "after the first chunk ends the stream with an error object."
)
REQUEST_ID_EXAMPLE = "req_5f0c8a1d2b3e4f5a6b7c8d9e0f1a2b3c"
USAGE_EXAMPLE = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS + name}


def _object(properties: dict[str, Any], *, required: tuple[str, ...] | None = None, **extra: Any) -> dict[str, Any]:
    """An object schema; every property is required unless `required` says otherwise."""
    names = list(properties) if required is None else list(required)
    return {**extra, "type": "object", "required": names, "properties": properties}


STRING, INTEGER = {"type": "string"}, {"type": "integer"}
VERSION = {"type": "integer", "description": "The version of the service's prompt that answered."}
REQUEST_ID = {"type": "string", "description": "The request's id, as in the X-Request-Id header."}
COMMON_SCHEMAS: dict[str, Any] = {
    "Usage": _object(
        {
            "prompt_tokens": {"type": "integer", "description": "Tokens the model read."},
            "completion_tokens": {"type": "integer", "description": "Tokens the model wrote."},
            "total_tokens": {"type": "integer", "description": "Both together."},
        }
    ),
    "Error": _object(
        {
            "error": _object(
                {
                    "message": {"type": "string", "description": "What went wrong and what to do about it."},
                    "type": STRING,
                    "param": {"type": ["string", "null"], "description": "The parameter or field at fault, if any."},
                    "code": {"type": ["string", "null"]},
                    "fields": {
                        "type": "object",
                        "additionalProperties": STRING,
                        "description": "Input errors only: one message per JSON path of the body.",
                    },
                },
                required=("message", "type"),
            )
        },
        description="The body of every error answer, and the last event of a stream that failed.",
    ),
}
INVOKE_SCHEMAS: dict[str, Any] = {
    "DeltaEvent": _object(
        {"type": {"const": "delta"}, "text": {"type": "string", "description": "The next part of the output."}},
        description="Sent for each next part of the output.",
    ),
    "DoneEvent": _object(
        {"type": {"const": "done"}, "usage": _ref("Usage"), "version": VERSION, "request_id": REQUEST_ID},
        description="Sent once, when the output is complete.",
    ),
}
CHAT_SCHEMAS: dict[str, Any] = {
    "ChatMessage": _object(
        {
            "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": {"type": ["string", "array", "null"], "description": "Text, or OpenAI's content parts."},
        }
    ),
    "ChatCompletion": _object(
        {
            "id": STRING,
            "object": {"const": "chat.completion"},
            "created": INTEGER,
            "model": STRING,
            "choices": {
                "type": "array",
                "items": _object({"index": INTEGER, "message": _ref("ChatMessage"), "finish_reason": STRING}),
            },
            "usage": _ref("Usage"),
        },
        required=("id", "object", "created", "model", "choices"),
        description="The model's answer.",
    ),
    "ChatCompletionChunk": _object(
        {
            "id": STRING,
            "object": {"const": "chat.completion.chunk"},
            "created": INTEGER,
            "model": STRING,
            "choices": {
                "type": "array",
                "items": _object(
                    {
                        "index": INTEGER,
                        "delta": {"type": "object", "properties": {"role": STRING, "content": STRING}},
                        "finish_reason": {"type": ["string", "null"]},
                    }
                ),
            },
            "usage": {
                **_ref("Usage"),
                "description": "In the last chunk, when stream_options.include_usage asks for it.",
            },
        },
        required=("id", "object", "created", "model", "choices"),
        description="Sent for each next part of the answer.",
    ),
}
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An app's API key (`Authorization: Bearer gwk_…`), from the portal.",
    }
}
NOT_SCHEMAS = frozenset({"const", "default", "enum", "example", "examples"})  # values: no reference to rebase


class ServiceLike(Protocol):
    """What the document is made of (a catalog Service has it all)."""

    slug: str
    name: str
    kind: str
    summary: str
    description: str
    lifecycle: str
    input_schema: dict[str, Any]
    output_mode: str
    output_schema: dict[str, Any]
    updated_at: datetime


def invoke_path(slug: str) -> str:
    return f"/api/v1/services/{slug}/invoke"


def _rebased(schema: Any, pointer: str) -> Any:
    """A copy of `schema` whose local references (`#`, `#/…`) point into the document, `schema` being at `pointer`.
    Inside a schema with its own `$id`, references resolve against that id: they are left as they are."""
    if isinstance(schema, list):
        return [_rebased(item, pointer) for item in schema]
    if not isinstance(schema, dict) or "$id" in schema:
        return copy.deepcopy(schema)
    rebased: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and (value == "#" or value.startswith("#/")):
            rebased[key] = f"#{pointer}{value[1:]}"
        elif key in NOT_SCHEMAS:
            rebased[key] = copy.deepcopy(value)
        else:
            rebased[key] = _rebased(value, pointer)
    return rebased


def _component(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> dict[str, str]:
    """Adds one of the service's own schemas to `schemas`; returns the reference to it."""
    schemas[name] = _rebased(schema, f"/components/schemas/{name}")
    return _ref(name)


def _pascal(slug: str) -> str:
    return "".join(part.capitalize() for part in slug.split("-"))


def _event_stream(description: str, events: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1 has no schema for the items of a stream (3.2's itemSchema): the schema is that of one event's
    payload, one of the named events or the error that ends a failed stream; the examples are a stream's events."""
    schema = {"description": description, "oneOf": [_ref(name) for name in [*events, "Error"]]}
    examples = {
        name: {"summary": schemas[name].get("description", name), "value": value} for name, value in events.items()
    }
    return {"text/event-stream": {"schema": schema, "examples": examples}}


def _responses(content: dict[str, Any], errors: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
    headers = {"X-Request-Id": "The request's id: quote it when reporting a problem.", **headers}
    documented = {name: {"description": text, "schema": STRING} for name, text in headers.items()}
    responses: dict[str, Any] = {"200": {"description": "The answer.", "headers": documented, "content": content}}
    for status, meaning in errors.items():
        responses[status] = {"description": meaning, "content": {"application/json": {"schema": _ref("Error")}}}
    return responses


def _prompt_api(service: ServiceLike, schemas: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = _pascal(service.slug)
    body = _component(schemas, f"{name}Input", service.input_schema)
    if service.output_mode == "json":
        output = _component(schemas, f"{name}Output", service.output_schema)
        output_example = example_value(service.output_schema, name="output")
    else:
        output, output_example = {"type": "string", "description": "The model's answer, as text."}, "<output>"
    answer = _object({"output": output, "usage": _ref("Usage"), "version": VERSION, "request_id": REQUEST_ID})
    done = {"type": "done", "usage": USAGE_EXAMPLE, "version": 1, "request_id": REQUEST_ID_EXAMPLE}
    example = {"output": output_example, "usage": USAGE_EXAMPLE, "version": 1, "request_id": REQUEST_ID_EXAMPLE}
    events = {"DeltaEvent": {"type": "delta", "text": "<text>"}, "DoneEvent": done}
    content = {
        "application/json": {"schema": answer, "example": example},
        **_event_stream(INVOKE_STREAM, events, schemas),
    }
    stream = {
        "name": "stream",
        "in": "query",
        "required": False,
        "description": f"Answer with server-sent events: {STREAM_VALUES}; any other value is a 400.",
        "schema": {"type": "boolean", "default": False},
    }
    headers = {"X-Service-Version": "The version of the prompt that answered."}
    if service.lifecycle == "deprecated":
        headers["Deprecation"] = "`true`: the service is deprecated and will be retired; move to its successor."
    operation = {
        "parameters": [stream],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body, "example": example_body(service.input_schema)}},
        },
        "responses": _responses(content, ERRORS, headers),
    }
    return invoke_path(service.slug), operation


def _model_api(service: ServiceLike, schemas: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    request = _object(
        {
            "model": {"const": service.slug, "description": "This model API's slug."},
            "messages": {"type": "array", "minItems": 1, "items": _ref("ChatMessage")},
            "stream": {"type": "boolean", "default": False, "description": "Answer with server-sent events."},
        },
        required=("model", "messages"),
        description="OpenAI's chat completion request; its other parameters are passed on to the model.",
    )
    created = {"id": "chatcmpl-1", "created": 1767225600, "model": service.slug}
    answer = {"role": "assistant", "content": "Hello!"}
    completion = {**created, "object": "chat.completion", "usage": USAGE_EXAMPLE}
    completion["choices"] = [{"index": 0, "message": answer, "finish_reason": "stop"}]
    chunk = {**created, "object": "chat.completion.chunk"}
    chunk["choices"] = [{"index": 0, "delta": {"content": "Hello!"}, "finish_reason": None}]
    content = {
        "application/json": {"schema": _ref("ChatCompletion"), "example": completion},
        **_event_stream(CHAT_STREAM, {"ChatCompletionChunk": chunk}, schemas),
    }
    operation = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": request,
                    "example": {"model": service.slug, "messages": [{"role": "user", "content": "Hello"}]},
                }
            },
        },
        "responses": _responses(content, CHAT_ERRORS, {}),
    }
    return "/v1/chat/completions", operation


def service_openapi(service: ServiceLike, *, server_url: str) -> dict[str, Any]:
    """The service's OpenAPI 3.1 document; `server_url` is the portal's base URL (no trailing slash)."""
    model_api = service.kind == "model"
    schemas = copy.deepcopy(COMMON_SCHEMAS | (CHAT_SCHEMAS if model_api else INVOKE_SCHEMAS))
    path, operation = (_model_api if model_api else _prompt_api)(service, schemas)
    operation = {
        "operationId": f"{'chat' if model_api else 'invoke'}_{service.slug.replace('-', '_')}",
        "summary": service.summary or f"Invoke {service.name}",
        "description": service.description,
        "deprecated": service.lifecycle == "deprecated",
        **operation,
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": service.name, "summary": service.summary, "version": service.updated_at.isoformat()},
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": {path: {"post": operation}},
        "components": {"schemas": schemas, "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }
