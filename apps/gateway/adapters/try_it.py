"""The catalog's try-it panel (apps/catalog/services/ports.py) on the data plane: one call of a service as an app,
without a key (the portal checked that the person may act for the app), through the real path — for a prompt API
ServiceInvoker.invoke_as_app (subscription, input schema, prompt version, route and failover, accounting, the call
log), for a model API the /v1 chat completion (the edge's body check, then GatewayPipeline.chat_as_app:
subscription, plan limits and budgets, cache, route, accounting, the call log). Registered by apps/gateway/apps.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from apps.catalog.services.ports import TryItCall, TryItResult
from apps.gateway.http import checked_body, new_request_id
from apps.gateway.pipeline.errors import GatewayError, InvalidRequest
from apps.gateway.pipeline.pipeline import GATEWAY_SCOPE
from apps.gateway.pipeline.snapshot import KeyEntry
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.gateway.schemas import ChatCompletionIn
from apps.gateway.wiring import get_invoker, get_pipeline, get_snapshot_store

Send = Callable[[GatewayRequest, KeyEntry, TryItCall], Awaitable[GatewayResponse]]


def _caller(call: TryItCall) -> KeyEntry:
    # Who calls, as a key would say it; the key's own fields stay empty (none was used) and the gateway scope is
    # the one a call needs.
    return KeyEntry(
        key_id=0,
        lookup_id="",
        pepper_id="",
        digest="",
        tenant_id=call.tenant_id,
        tenant_slug=call.tenant_slug,
        app_id=call.app_id,
        app_slug=call.app_slug,
        scopes=frozenset({GATEWAY_SCOPE}),
        expires_at=None,
    )


async def _invoke(req: GatewayRequest, caller: KeyEntry, call: TryItCall) -> GatewayResponse:
    return await get_invoker().invoke_as_app(req, caller=caller, slug=call.service_slug)


async def _chat(req: GatewayRequest, caller: KeyEntry, call: TryItCall) -> GatewayResponse:
    pipeline = get_pipeline()
    try:
        req.body = checked_body(call.body, ChatCompletionIn)  # what /v1's edge checks before the pipeline
        if req.body.get("stream"):
            # The panel shows one answer; a stream is what the curl it shows is for.
            message = "The try-it panel shows one answer: leave 'stream' out or set it to false."
            raise InvalidRequest(message, param="stream")
    except GatewayError as refusal:
        return await pipeline.refuse(req, refusal, endpoint="try_it", caller=caller)
    return await pipeline.chat_as_app(req, caller=caller)


def _field_errors(status: int, error: Any) -> dict[str, str]:
    """The input's problems by place: an invocation's schema errors (error.fields), or the parameter a 400 names."""
    if not isinstance(error, dict):
        return {}
    if error.get("fields"):
        return dict(error["fields"])
    if status == 400 and error.get("param"):
        return {str(error["param"]): str(error.get("message") or "")}
    return {}


class PipelineServiceTrier:
    def __call__(self, call: TryItCall) -> TryItResult:
        return self._run(call, _invoke)

    def chat(self, call: TryItCall) -> TryItResult:
        return self._run(call, _chat)

    def _run(self, call: TryItCall, send: Send) -> TryItResult:
        # From a synchronous view: an event loop of its own, whose call record is written and whose pooled upstream
        # connections are closed before it ends (as the prompt runner's run_now does).
        return asyncio.run(self._once(call, send))

    async def _once(self, call: TryItCall, send: Send) -> TryItResult:
        try:
            # Not the hot path: a subscription approved a moment ago is in the snapshot used.
            await get_snapshot_store().refresh()
            now = time.perf_counter(), time.time()
            req = GatewayRequest(
                request_id=new_request_id(), api_key=None, body=call.body, received=now[0], received_wall=now[1]
            )
            response = await send(req, _caller(call), call)
        finally:
            await get_pipeline().end_of_loop()
        body = response.body or {}
        return TryItResult(
            status=response.status,
            body=body,
            headers=dict(response.headers),
            latency_ms=response.record.latency_ms if response.record is not None else 0.0,
            field_errors=_field_errors(response.status, body.get("error")),
        )
