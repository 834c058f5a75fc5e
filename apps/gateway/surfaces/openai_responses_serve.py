"""`POST /v1/responses` and `GET /v1/responses/{id}` on the pipeline's request skeleton: the key first (a bad key is
a 401 whatever the body), then the body translated to chat completions (openai_responses.py) with the stored
previous response's conversation before it, the route, the policy steps (limits, budgets, cache) around the call,
and the answer translated back, then stored for the tenant unless `store: false`. Errors are OpenAI's envelope;
a provider's refusal names the parameter as the caller wrote it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from apps.gateway.pipeline.errors import GatewayError, UpstreamError
from apps.gateway.pipeline.pipeline import GatewayPipeline, require_gateway_scope
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.router import RouteOutcome, failure
from apps.gateway.pipeline.seam import StreamCall
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.gateway.surfaces.openai_responses import chat_body, check, input_items, new_id, responses_param
from apps.gateway.surfaces.openai_responses_stream import ResponseStream, response_base, response_of
from apps.providers.clients.base import ProviderError

ENDPOINT = "responses"
_log = logging.getLogger(__name__)


class StoredResponse(Protocol):
    response: dict[str, Any]  # the response object, as GET /v1/responses/{id} answers it
    items: list[dict[str, Any]]  # the conversation up to and including its output, for previous_response_id


class ResponseStore(Protocol):
    """Responses kept for their tenant for a retention period (adapters/responses_store.py)."""

    async def load(self, response_id: str, *, tenant_id: int) -> StoredResponse | None:
        """The tenant's response; None when absent, expired or another tenant's (which is never told apart)."""
        ...

    async def save(self, *, tenant_id: int, response: dict[str, Any], items: list[dict[str, Any]]) -> None: ...

    async def delete(self, response_id: str, *, tenant_id: int) -> bool: ...


class PreviousResponseNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "previous_response_not_found"


class ResponseStoreUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "response_store_unavailable"


class ResponseNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "response_not_found"


def _renamed(exc: GatewayError) -> GatewayError:
    """A refusal naming a chat-completions parameter, renamed to the Responses parameter the caller sent."""
    param = responses_param(exc.param)
    if param != exc.param and exc.param:
        exc.message = exc.message.replace(f"'{exc.param}'", f"'{param}'")
        exc.param = param
    return exc


class _Refused(Exception):
    def __init__(self, response: GatewayResponse) -> None:
        super().__init__()
        self.response = response


async def _authorized(
    pipeline: GatewayPipeline, store: ResponseStore, req: GatewayRequest, body: Any
) -> tuple[CallContext, list[dict[str, Any]]]:
    """The key, the body (translated, after the previous response's conversation), the route: the call's context
    and the conversation's items so far (to store with the answer)."""
    snapshot, record = await pipeline.begin(req, ENDPOINT)
    try:
        key = await pipeline.authenticate(snapshot, req.api_key)
        pipeline.identify(record, key)
        require_gateway_scope(key)
        body = check(body)
        items = list(input_items(body["input"]))
        if previous_id := body.get("previous_response_id"):
            previous = await store.load(previous_id, tenant_id=key.tenant_id)  # a lookup only when asked for
            if previous is None:
                raise PreviousResponseNotFound(
                    f"Previous response with id '{previous_id}' not found.", param="previous_response_id"
                )
            items = previous.items + items
        req.body = chat_body(body, items)
        record.stream = bool(req.body.get("stream"))
        return pipeline.model_context(req, record, snapshot, key, stream=record.stream), items
    except GatewayError as exc:
        raise _Refused(pipeline.fail(req, record, exc)) from exc


async def create(pipeline: GatewayPipeline, store: ResponseStore, req: GatewayRequest, body: Any) -> GatewayResponse:
    try:
        ctx, items = await _authorized(pipeline, store, req, body)
    except _Refused as refused:
        return refused.response
    outcome = RouteOutcome()
    record = ctx.record
    base = response_base(body, response_id=new_id("resp"), created_at=int(req.received_wall), model=body["model"])

    try:
        if ctx.stream:
            opened = await pipeline.open_stream(ctx, outcome)
            headers = pipeline.headers(record) | ctx.headers
            stream = _relay(pipeline, store, opened, base, items)
            return GatewayResponse(status=200, stream=stream, headers=headers, record=record)
        answer, _ = await pipeline.execute(ctx, outcome, pipeline.chat_call(outcome))
    except GatewayError as exc:
        return pipeline.fail(req, record, _renamed(exc), outcome, ctx)
    response = response_of(base, answer)
    await _store(store, ctx, response, items)
    headers = pipeline.finish(req, record, outcome) | ctx.headers
    return GatewayResponse(status=200, body=response, headers=headers, record=record)


async def _store(store: ResponseStore, ctx: CallContext, response: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Kept for previous_response_id and retrieval unless `store: false`; a store that is down costs the caller
    the later lookup, not this answer."""
    if not response["store"]:
        return
    try:
        await store.save(tenant_id=ctx.tenant_id, response=response, items=items + response["output"])
    except Exception:
        _log.exception("request %s: response %s could not be stored", ctx.record.request_id, response["id"])


def _relay(
    pipeline: GatewayPipeline,
    store: ResponseStore,
    opened: StreamCall,
    base: dict[str, Any],
    items: list[dict[str, Any]],
) -> AsyncIterator[bytes]:
    events = ResponseStream(base)

    def broken(exc: ProviderError) -> bytes:
        message = f"The upstream stream failed: {failure(exc, opened.outcome.deployment)}."
        return events.error(UpstreamError(message, code="upstream_stream_error"))

    async def stream() -> AsyncIterator[bytes]:
        async for part in pipeline.relay(opened, events.render, broken=broken):
            yield part
        # Only a completed stream gets here with 200: the response is stored before the caller hears it is
        # complete, so that its next call may name it at once.
        if opened.ctx.record.status == 200:
            ending = events.done()
            if events.response is not None:
                await _store(store, opened.ctx, events.response, items)
            yield b"".join(ending)

    return stream()


async def retrieve(
    pipeline: GatewayPipeline, store: ResponseStore, req: GatewayRequest, response_id: str, *, delete: bool = False
) -> GatewayResponse:
    """GET (or DELETE) a response the key's tenant stored; any other id is a 404 that does not tell whether it
    exists. No model is called, so no call is recorded (as for /v1/models)."""
    snapshot, record = await pipeline.begin(req, ENDPOINT)
    try:
        key = await pipeline.authenticate(snapshot, req.api_key)
        require_gateway_scope(key)
        missing = ResponseNotFound(f"Response with id '{response_id}' not found.", param="response_id")
        if delete:
            if not await store.delete(response_id, tenant_id=key.tenant_id):
                raise missing
            body: dict[str, Any] = {"id": response_id, "object": "response.deleted", "deleted": True}
        else:
            stored = await store.load(response_id, tenant_id=key.tenant_id)
            if stored is None:
                raise missing
            body = stored.response
    except GatewayError as exc:
        return GatewayResponse(status=exc.status, body=exc.envelope(), headers=pipeline.headers(record) | exc.headers())
    return GatewayResponse(status=200, body=body, headers=pipeline.headers(record))
