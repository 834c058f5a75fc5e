"""The OpenAPI 3.1 document of one service, generated from its input and output schemas (pure: no Django).

One operation, `POST /api/v1/services/<slug>/invoke`: the input schema is the request body, the answer is
{"output", "usage", "version", "request_id"}, and `?stream=true` answers with server-sent events instead."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Protocol

OPENAPI_VERSION = "3.1.0"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
REQUEST_ID_HEADER = {
    "X-Request-Id": {
        "description": "The request's id: quote it when reporting a problem.",
        "schema": {"type": "string"},
    }
}
ERRORS = {
    "400": "The body is not JSON or does not match the input schema; `param` names the field at fault.",
    "401": "No API key, or an unknown, expired or revoked one.",
    "403": "The key's app has no approved subscription to this service, or the key lacks the `gateway` scope.",
    "404": "No such service, or it is not visible to the key's tenant.",
    "429": "A rate limit, quota or budget of the subscription's plan is used up; retry later.",
    "502": "The model provider failed to answer.",
}
STREAM_DESCRIPTION = (
    "With `?stream=true`: server-sent events (`text/event-stream`). Each `data:` line is a JSON object: "
    '`{"type": "delta", "text": "…"}` for each next part of the output, then '
    '`{"type": "done", "usage": {…}, "version": n, "request_id": "…"}`, and the stream ends with `data: [DONE]`. '
    'An upstream failure after the first event ends the stream with `{"error": {…}}` instead.'
)
COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Usage": {
            "type": "object",
            "properties": {
                "prompt_tokens": {"type": "integer"},
                "completion_tokens": {"type": "integer"},
                "total_tokens": {"type": "integer"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type"],
                    "properties": {
                        "message": {"type": "string", "description": "What went wrong and what to do about it."},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"], "description": "The input field at fault, if any."},
                        "code": {"type": ["string", "null"]},
                    },
                }
            },
        },
    },
    "securitySchemes": {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An app's API key (`Authorization: Bearer gwk_…`), from the portal.",
        }
    },
}


def _output_schema(output_mode: str, output_schema: dict[str, Any]) -> dict[str, Any]:
    if output_mode == "json":
        return output_schema
    return {"type": "string", "description": "The model's answer, as text."}


def _success(output: dict[str, Any]) -> dict[str, Any]:
    answer = {
        "type": "object",
        "required": ["output", "usage", "version", "request_id"],
        "properties": {
            "output": output,
            "usage": {"$ref": "#/components/schemas/Usage"},
            "version": {"type": "integer", "description": "The version of the service's prompt that answered."},
            "request_id": {"type": "string"},
        },
    }
    return {
        "description": "The service's answer.",
        "headers": REQUEST_ID_HEADER,
        "content": {
            "application/json": {"schema": answer},
            "text/event-stream": {"schema": {"type": "string"}, "description": STREAM_DESCRIPTION},
        },
    }


class ServiceLike(Protocol):
    """What the document is made of (a catalog Service has it all)."""

    slug: str
    name: str
    summary: str
    description: str
    lifecycle: str
    input_schema: dict[str, Any]
    output_mode: str
    output_schema: dict[str, Any]
    updated_at: datetime


def invoke_path(slug: str) -> str:
    return f"/api/v1/services/{slug}/invoke"


def service_openapi(service: ServiceLike, *, server_url: str) -> dict[str, Any]:
    """The service's OpenAPI 3.1 document; `server_url` is the portal's base URL (no trailing slash)."""
    responses: dict[str, Any] = {"200": _success(_output_schema(service.output_mode, service.output_schema))}
    for status, meaning in ERRORS.items():
        responses[status] = {"description": meaning, "content": {"application/json": {"schema": ERROR_REF}}}
    operation = {
        "operationId": f"invoke_{service.slug.replace('-', '_')}",
        "summary": service.summary or f"Invoke {service.name}",
        "description": service.description,
        "deprecated": service.lifecycle == "deprecated",
        "parameters": [
            {
                "name": "stream",
                "in": "query",
                "required": False,
                "description": STREAM_DESCRIPTION,
                "schema": {"type": "boolean", "default": False},
            }
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": service.input_schema}}},
        "responses": responses,
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": service.name, "summary": service.summary, "version": service.updated_at.isoformat()},
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": {invoke_path(service.slug): {"post": operation}},
        "components": copy.deepcopy(COMPONENTS),
    }
