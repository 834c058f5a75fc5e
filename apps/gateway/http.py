"""Between Django requests/responses and the pipeline: key extraction, body parsing and validation with
OpenAI-style errors, and turning a GatewayResponse into an HttpResponse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from pydantic import BaseModel, ValidationError

from apps.gateway.pipeline.errors import GatewayError, InvalidRequest, PayloadTooLarge, ServerError
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.gateway.schemas import invalid_body
from apps.gateway.surfaces.anthropic_answer import gateway_error_body

_log = logging.getLogger(__name__)


def new_request_id() -> str:
    return f"req_{os.urandom(16).hex()}"  # 128 random bits like uuid4().hex, in a third of the time


# Headers are read from request.META: request.headers builds a mapping of every header on first use, which
# measured ~45 µs per request on the data plane (bench/, README "Performance").
def api_key_from(request: HttpRequest) -> str | None:
    """`Authorization: Bearer <key>`, or `api-key: <key>` as Azure OpenAI clients send it."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.META.get("HTTP_API_KEY") or None


def anthropic_api_key_from(request: HttpRequest) -> str | None:
    """`x-api-key: <key>` as Anthropic's clients send it, else what `api_key_from` finds (/v1/messages)."""
    return request.META.get("HTTP_X_API_KEY") or api_key_from(request)


def is_anthropic_path(path: str) -> bool:
    """/v1/messages and what lies under it answer errors in Anthropic's shape."""
    return path == "/v1/messages" or path.startswith("/v1/messages/")


def parse_json_body(request: HttpRequest) -> Any:
    """The body parsed as JSON (any value), within the size limit."""
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > settings.GATEWAY_MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body exceeds {settings.GATEWAY_MAX_BODY_BYTES} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"The request body exceeds {settings.GATEWAY_MAX_BODY_BYTES} bytes.") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("We could not parse the JSON body of your request: it is not valid JSON.") from None


def parse_body(request: HttpRequest, schema: type[BaseModel]) -> dict[str, Any]:
    """A JSON object that the schema accepts; a 400 naming the parameter at fault otherwise."""
    return checked_body(parse_json_body(request), schema)


def checked_body(body: Any, schema: type[BaseModel]) -> dict[str, Any]:
    """`body` if it is a JSON object that the schema accepts (the edge's check, for a body that came another way
    than HTTP: the try-it panel's); a 400 naming the parameter at fault otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        raise invalid_body(exc, body) from None
    return body


def request_started(request: HttpRequest) -> tuple[str, float, float]:
    """(request id, perf_counter and time.time when the request arrived), the same for every use in one request:
    the data-plane handler stamps them when the request is created, other entry points on first use."""
    stamp = getattr(request, "_gateway_stamp", None)
    if stamp is None:
        stamp = request._gateway_stamp = (new_request_id(), time.perf_counter(), time.time())
    return stamp


def gateway_request(request: HttpRequest) -> GatewayRequest:
    """The request for the pipeline, without a body (the caller sets one, or `checked_request` does)."""
    request_id, received, received_wall = request_started(request)
    return GatewayRequest(
        request_id=request_id,
        api_key=api_key_from(request),
        body={},
        received=received,
        received_wall=received_wall,
        cache_control=request.META.get("HTTP_CACHE_CONTROL", ""),
    )


def checked_request(request: HttpRequest, schema: type[BaseModel]) -> tuple[GatewayRequest, GatewayError | None]:
    """The request with its body if the schema accepts it, else with the refusal, which the pipeline answers only
    once the key has passed (`GatewayPipeline.refuse`): a bad key is a 401 whatever the body holds."""
    req = gateway_request(request)
    try:
        req.body = parse_body(request, schema)
    except GatewayError as exc:
        return req, exc
    return req, None


def error_response(
    exc: GatewayError,
    request: HttpRequest | None = None,
    *,
    request_id: str | None = None,
    started: float | None = None,
    path: str = "",
) -> HttpResponse:
    """The error envelope (Anthropic's error shape under /v1/messages), with the request's id and the gateway's
    time since the request arrived. `path` stands for the request's when there is no request yet."""
    if request is not None:
        request_id, started, _ = request_started(request)
        path = request.path
    body = gateway_error_body(exc) if is_anthropic_path(path) else exc.envelope()
    headers = {"X-Request-Id": request_id or new_request_id(), **exc.headers()}
    if started is not None:
        headers["X-Gateway-Overhead-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
    return HttpResponse(orjson.dumps(body), status=exc.status, content_type="application/json", headers=headers)


def server_error(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """An unexpected failure: logged once, with its traceback and the request id; the caller gets the envelope
    and the request id, never the traceback."""
    request_id, _, _ = request_started(request)
    _log.error("request %s: %s %s failed", request_id, request.method, request.path, exc_info=exc)
    error = ServerError(f"The gateway could not process your request. Its id, for a report: {request_id}.")
    response = error_response(error, request)
    response._has_been_logged = True  # Django's request logger would log it a second time, without the id
    return response


def to_http_response(result: GatewayResponse) -> HttpResponse:
    if result.stream is not None:
        headers = {**result.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingHttpResponse(coalesced(result.stream), content_type="text/event-stream", headers=headers)
    return HttpResponse(
        orjson.dumps(result.body), status=result.status, content_type="application/json", headers=result.headers
    )


_END = object()


async def coalesced(parts: AsyncIterator[bytes], depth: int = 64) -> AsyncIterator[bytes]:
    """The same bytes, but parts that are ready together leave as one: an upstream that sends many events in
    one packet then costs one ASGI message and one socket write instead of one per event, which was a third of
    a stream's CPU (bench/, README "Performance"). A part that is ready alone leaves at once: nothing waits.

    A task reads ahead of the sending, at most `depth` parts; when the sending stops (the client went away),
    the task is cancelled where it waits, exactly as the view's cancellation would have reached the stream."""
    queue: asyncio.Queue = asyncio.Queue(depth)

    async def pump() -> None:
        try:
            async for part in parts:
                await queue.put(part)
        except Exception as exc:  # handed to the sending side, which raises it where the stream was read
            await queue.put(exc)
        else:
            await queue.put(_END)
        finally:
            if isinstance(parts, AsyncGenerator):  # cancelled while it waits at a `yield`: close it now
                await parts.aclose()

    reader = asyncio.create_task(pump())
    try:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            end = batch[-1] is _END or isinstance(batch[-1], Exception)
            data = b"".join(batch[:-1] if end else batch)
            if data:
                yield data
            if isinstance(batch[-1], Exception):
                raise batch[-1]
            if end:
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
