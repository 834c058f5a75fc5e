"""The catalog's try-it panel (apps/catalog/services/ports.py) on the data plane: one invocation of a service as an
app, through the real invoke path (ServiceInvoker.invoke_as_app) — subscription, input schema, prompt version,
route and failover, accounting and the call log — without a key: the portal checked that the person may act for
the app. Registered by apps/gateway/apps.py."""

from __future__ import annotations

import asyncio
import time

from apps.catalog.services.ports import TryItCall, TryItResult
from apps.gateway.http import new_request_id
from apps.gateway.pipeline.pipeline import GATEWAY_SCOPE
from apps.gateway.pipeline.snapshot import KeyEntry
from apps.gateway.pipeline.types import GatewayRequest
from apps.gateway.wiring import get_invoker, get_snapshot_store


def _caller(call: TryItCall) -> KeyEntry:
    # Who calls, as a key would say it; the key's own fields stay empty (none was used) and the gateway scope is
    # the one an invocation needs.
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


class PipelineServiceTrier:
    def __call__(self, call: TryItCall) -> TryItResult:
        # From a synchronous view: an event loop of its own, whose call record is written and whose pooled upstream
        # connections are closed before it ends (as the prompt runner's run_now does).
        return asyncio.run(self._once(call))

    async def _once(self, call: TryItCall) -> TryItResult:
        invoker = get_invoker()
        try:
            # Not the hot path: a subscription approved a moment ago is in the snapshot used.
            await get_snapshot_store().refresh()
            now = time.perf_counter(), time.time()
            req = GatewayRequest(
                request_id=new_request_id(), api_key=None, body=call.body, received=now[0], received_wall=now[1]
            )
            response = await invoker.invoke_as_app(req, caller=_caller(call), slug=call.service_slug)
        finally:
            await invoker.end_of_loop()
        body = response.body or {}
        error = body.get("error")
        fields = error.get("fields") if isinstance(error, dict) else None
        return TryItResult(
            status=response.status,
            body=body,
            headers=dict(response.headers),
            latency_ms=response.record.latency_ms if response.record is not None else 0.0,
            field_errors=dict(fields or {}),
        )
