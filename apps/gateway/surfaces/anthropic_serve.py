"""`POST /v1/messages` and `/v1/messages/count_tokens` on the pipeline's request skeleton: the key first (a bad
key is a 401 whatever the body), then the body translated to chat completions (anthropic_messages.py), the
route, the policy steps (limits, budgets, cache) around the call, and the answer translated back. Every error
goes out in Anthropic's shape with the status and headers (Retry-After, X-RateLimit-*) the pipeline gave it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from apps.gateway.pipeline.errors import AuthenticationFailed, GatewayError, UpstreamError
from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.router import RouteOutcome, failure
from apps.gateway.pipeline.seam import StreamCall
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.gateway.surfaces.anthropic_answer import answer_to_anthropic, error_body
from apps.gateway.surfaces.anthropic_messages import check_version, request_to_openai
from apps.gateway.surfaces.anthropic_stream import MessageStream
from apps.providers.clients.base import ProviderError
from apps.providers.clients.tokens import count_message_tokens, count_tokens, counted

ENDPOINT = "messages"
COUNT_ENDPOINT = "count_tokens"


def in_anthropic_shape(response: GatewayResponse) -> GatewayResponse:
    """An error answer of the pipeline (OpenAI's envelope) in Anthropic's error shape; others as they are."""
    if response.status >= 400 and response.body is not None and "error" in response.body:
        response.body = error_body(response.status, str(response.body["error"].get("message") or ""))
    return response


class _Refused(Exception):
    def __init__(self, response: GatewayResponse) -> None:
        super().__init__()
        self.response = response


async def _authorized(
    pipeline: GatewayPipeline, req: GatewayRequest, body: Any, version: str | None, endpoint: str
) -> CallContext:
    """The key, then the version header and the body (translated), then the route: the call's context."""
    snapshot, record = await pipeline.begin(req, endpoint)
    try:
        if not req.api_key:
            raise AuthenticationFailed(
                "Missing API key: send it as 'x-api-key: <key>' (or 'Authorization: Bearer <key>')."
            )
        key = await pipeline.authenticate(snapshot, req.api_key)
        pipeline.identify(record, key)
        req.body = request_to_openai(body, version=check_version(version), count_only=endpoint == COUNT_ENDPOINT)
        record.stream = bool(req.body.get("stream")) and endpoint == ENDPOINT
        return pipeline.model_context(req, record, snapshot, key, stream=record.stream)
    except GatewayError as exc:
        raise _Refused(in_anthropic_shape(pipeline.fail(req, record, exc))) from exc


async def messages(
    pipeline: GatewayPipeline, req: GatewayRequest, body: Any, *, version: str | None
) -> GatewayResponse:
    try:
        ctx = await _authorized(pipeline, req, body, version, ENDPOINT)
    except _Refused as refused:
        return refused.response
    outcome = RouteOutcome()
    record = ctx.record
    model = str(req.body["model"])

    try:
        if ctx.stream:
            opened = await pipeline.open_stream(ctx, outcome)
            headers = pipeline.headers(record) | ctx.headers
            return GatewayResponse(status=200, stream=_relay(pipeline, opened, model), headers=headers, record=record)
        answer, _ = await pipeline.execute(ctx, outcome, pipeline.chat_call(outcome))
        message = answer_to_anthropic(answer, model=model)
    except GatewayError as exc:
        return in_anthropic_shape(pipeline.fail(req, record, exc, outcome, ctx))
    headers = pipeline.finish(req, record, outcome) | ctx.headers
    return GatewayResponse(status=200, body=message, headers=headers, record=record)


def _relay(pipeline: GatewayPipeline, opened: StreamCall, model: str) -> AsyncIterator[bytes]:
    events = MessageStream(model=model)

    def broken(exc: ProviderError) -> bytes:
        message = f"The upstream stream failed: {failure(exc, opened.outcome.deployment)}."
        return events.error(UpstreamError(message, code="upstream_stream_error"))

    return pipeline.relay(opened, events.render, done=events.done, broken=broken)


async def count(pipeline: GatewayPipeline, req: GatewayRequest, body: Any, *, version: str | None) -> GatewayResponse:
    """`{"input_tokens": N}`: the gateway's tiktoken (o200k_base) estimate of the translated prompt and tool
    definitions, not the upstream model's own tokenizer. No upstream call, so no policy step runs."""
    try:
        ctx = await _authorized(pipeline, req, body, version, COUNT_ENDPOINT)
    except _Refused as refused:
        return refused.response
    tokens = await counted(count_message_tokens, ctx.body["messages"])
    if tools := ctx.body.get("tools"):
        tokens += await counted(count_tokens, orjson.dumps(tools).decode())
    ctx.record.status = 200
    headers = pipeline.finish(req, ctx.record, None)
    return GatewayResponse(status=200, body={"input_tokens": tokens}, headers=headers, record=ctx.record)
