"""Between Django requests/responses and the pipeline: key extraction, body parsing and validation with
OpenAI-style errors, and turning a GatewayResponse into an HttpResponse."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from pydantic import BaseModel, ValidationError

from apps.gateway.pipeline.errors import GatewayError, InvalidRequest, PayloadTooLarge
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def api_key_from(request: HttpRequest) -> str | None:
    """`Authorization: Bearer <key>`, or `api-key: <key>` as Azure OpenAI clients send it."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("api-key") or None


def _error_param(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"])


def parse_body(request: HttpRequest, schema: type[BaseModel]) -> dict[str, Any]:
    length = request.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > settings.GATEWAY_MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body exceeds {settings.GATEWAY_MAX_BODY_BYTES} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"The request body exceeds {settings.GATEWAY_MAX_BODY_BYTES} bytes.") from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("We could not parse the JSON body of your request: it is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = _error_param(first)
        raise InvalidRequest(f"Invalid value for '{param}': {first['msg']}.", param=param) from None
    return body


def gateway_request(request: HttpRequest, schema: type[BaseModel] | None = None) -> GatewayRequest:
    received, received_wall = time.perf_counter(), time.time()
    body = parse_body(request, schema) if schema is not None else {}
    return GatewayRequest(
        request_id=new_request_id(),
        api_key=api_key_from(request),
        body=body,
        received=received,
        received_wall=received_wall,
    )


def error_response(exc: GatewayError, request_id: str | None = None, started: float | None = None) -> HttpResponse:
    headers = {"X-Request-Id": request_id or new_request_id()}
    if started is not None:
        headers["X-Gateway-Overhead-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
    return HttpResponse(
        orjson.dumps(exc.envelope()), status=exc.status, content_type="application/json", headers=headers
    )


def to_http_response(result: GatewayResponse) -> HttpResponse:
    if result.stream is not None:
        headers = {**result.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingHttpResponse(result.stream, content_type="text/event-stream", headers=headers)
    return HttpResponse(
        orjson.dumps(result.body), status=result.status, content_type="application/json", headers=result.headers
    )
