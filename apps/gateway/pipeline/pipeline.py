"""The data-plane pipeline: authenticate → authorize → route → policy steps around the provider call → account →
record.

Both HTTP surfaces (/v1 and the invoke endpoint) are thin adapters over this class; it knows no HTTP
framework and reads configuration only from the in-memory snapshot. The request skeleton the surfaces share
(the record, the policy steps, accounting) is seam.py's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from apps.gateway.pipeline.errors import (
    AuthenticationFailed,
    GatewayError,
    ModelNotFound,
    PermissionDenied,
    UpstreamError,
)
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.router import Attempt, RouteOutcome, failure
from apps.gateway.pipeline.seam import Seam, StreamCall, upstream_for
from apps.gateway.pipeline.snapshot import KeyEntry, RouteEntry, ServiceEntry, Snapshot, SubscriptionEntry
from apps.gateway.pipeline.streams import SSE_DONE, sse_event
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.providers.clients.base import ChatResult, EmbeddingResult, ProviderError

GATEWAY_SCOPE = "gateway"


def require_gateway_scope(key: KeyEntry) -> None:
    if GATEWAY_SCOPE not in key.scopes:
        raise PermissionDenied("This key may not call the gateway (it lacks the 'gateway' scope).")


def _route_model(route: RouteEntry, key: KeyEntry) -> dict[str, Any]:
    return {"id": route.alias, "object": "model", "created": route.created, "owned_by": key.tenant_slug}


def _service_model(service: ServiceEntry) -> dict[str, Any]:
    return {"id": service.slug, "object": "model", "created": 0, "owned_by": f"service:{service.slug}"}


class GatewayPipeline(Seam):
    # 1. authenticate: a key id the snapshot does not know (issued since it was built) is looked up once, and
    # what is found passes the same checks as an entry of the snapshot.
    async def authenticate(self, snapshot: Snapshot, api_key: str | None) -> KeyEntry:
        if not api_key:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        parts = api_key.split("_", 2)
        if len(parts) != 3 or parts[0] != "gwk":
            raise AuthenticationFailed("Invalid API key.")
        entry = snapshot.keys.get(parts[1]) or await self._config.find_key(parts[1])
        if entry is None or not self._keys.verify(api_key, entry):
            raise AuthenticationFailed("Invalid API key.")
        if entry.expires_at is not None and entry.expires_at.timestamp() <= self._wall():
            raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
        return entry

    # 2. authorize: the key's tenant owns the route, or the model is another tenant's model API the app is
    # subscribed to (approved, unexpired); either way one dict lookup in the snapshot.
    def resolve_route(
        self, snapshot: Snapshot, key: KeyEntry, model: str
    ) -> tuple[RouteEntry, ServiceEntry | None, SubscriptionEntry | None]:
        """The route, and for another tenant's model API the service and the subscription the call is made under."""
        require_gateway_scope(key)
        route = snapshot.routes.get((key.tenant_id, model))
        service = subscription = None
        if route is None:
            service = snapshot.services.get(model)
            if service is not None and snapshot.may_call_model_service(
                service, key.tenant_id, key.app_id, self._wall()
            ):
                route = snapshot.routes.get((service.tenant_id, service.route_alias))
                subscription = snapshot.subscriptions.get((key.app_id, service.service_id))
        if route is None:
            raise ModelNotFound(f"The model {model!r} does not exist or you do not have access to it.", param="model")
        if not route.deployments:
            raise ModelNotFound(f"The model {model!r} has no enabled deployment.", param="model")
        return route, (service if subscription is not None else None), subscription

    def model_context(
        self, req: GatewayRequest, record: CallRecord, snapshot: Snapshot, key: KeyEntry, *, stream: bool = False
    ) -> CallContext:
        """The context of a call by `key` to the model its body names (every OpenAI-shaped surface: chat,
        embeddings, /v1/messages, /v1/responses): the route, or another tenant's model API with the subscription
        it is called under. Raises the GatewayError of a refusal."""
        route, service, subscription = self.resolve_route(snapshot, key, req.body["model"])
        record.service_id = service.service_id if service is not None else None
        return self.context(
            req,
            record,
            snapshot,
            tenant_id=key.tenant_id,
            key=key,
            route=route,
            body=req.body,
            service=service,
            subscription=subscription,
            stream=stream,
        )

    def chat_call(self, outcome: RouteOutcome) -> Callable[[CallContext], Awaitable[ChatResult]]:
        """The upstream call of a chat completion for `execute`: through the router, recording the model that
        answered."""

        async def call(ctx: CallContext) -> ChatResult:
            async def attempt(attempt: Attempt) -> ChatResult:
                return await self.client_for(attempt).chat(upstream_for(attempt), ctx.body)

            result = await self.router.run(ctx.route, attempt, outcome=outcome)
            ctx.record.model = str(result.body.get("model") or "")
            return result

        return call

    async def caller_or_key(
        self, snapshot: Snapshot, record: CallRecord, req: GatewayRequest, caller: KeyEntry | None
    ) -> KeyEntry:
        """Who calls: the app of the request's key, or for the portal's try-it panel the app `caller` names, whom
        the person's session was allowed to act for (no key to verify, so none is recorded)."""
        key = caller or await self.authenticate(snapshot, req.api_key)
        self.identify(record, key)
        if caller is not None:
            record.key_prefix = ""
        return key

    async def _authorized(
        self, req: GatewayRequest, endpoint: str, *, stream: bool = False, caller: KeyEntry | None = None
    ) -> CallContext:
        """/v1's steps before the call: the key (or the try-it panel's app), the model, the context of the call."""
        snapshot, record = await self.begin(req, endpoint)
        record.stream = stream
        try:
            key = await self.caller_or_key(snapshot, record, req, caller)
            return self.model_context(req, record, snapshot, key, stream=stream)
        except GatewayError as exc:
            raise _Refused(self.fail(req, record, exc)) from exc

    async def models(self, req: GatewayRequest, model_id: str | None = None) -> GatewayResponse:
        """OpenAI's model list, or one model of it (`model_id`): the routes of the key's tenant and the other
        tenants' model APIs its app may call. Any other id is a 404 that does not tell whether it exists."""
        snapshot, record = await self.begin(req, "models")
        try:
            key = await self.authenticate(snapshot, req.api_key)
            require_gateway_scope(key)
            body = self._model_list(snapshot, key) if model_id is None else self._model(snapshot, key, model_id)
        except GatewayError as exc:
            record.status = exc.status
            headers = {**self.headers(record), **exc.headers()}
            return GatewayResponse(status=exc.status, body=exc.envelope(), headers=headers)
        record.overhead_ms = (self._clock() - req.received) * 1000
        return GatewayResponse(status=200, body=body, headers=self.headers(record))

    def _model_list(self, snapshot: Snapshot, key: KeyEntry) -> dict[str, Any]:
        data = [_route_model(route, key) for route in snapshot.tenant_routes.get(key.tenant_id, ())]
        services = snapshot.model_services_for(key.tenant_id, key.app_id, self._wall())
        return {"object": "list", "data": data + [_service_model(service) for service in services]}

    def _model(self, snapshot: Snapshot, key: KeyEntry, model_id: str) -> dict[str, Any]:
        route = snapshot.routes.get((key.tenant_id, model_id))
        if route is not None:
            return _route_model(route, key)
        service = snapshot.services.get(model_id)
        if service is not None and snapshot.may_call_model_service(service, key.tenant_id, key.app_id, self._wall()):
            return _service_model(service)
        raise ModelNotFound(f"The model {model_id!r} does not exist or you do not have access to it.", param="model")

    async def refuse(
        self, req: GatewayRequest, refusal: GatewayError, *, endpoint: str, caller: KeyEntry | None = None
    ) -> GatewayResponse:
        """A request whose body the edge refused: the key is checked first, as for any call (a bad key is a 401
        whatever the body), then the refusal is answered and recorded."""
        snapshot, record = await self.begin(req, endpoint)
        try:
            key = await self.caller_or_key(snapshot, record, req, caller)
            require_gateway_scope(key)
        except GatewayError as exc:
            refusal = exc
        return self.fail(req, record, refusal)

    async def embeddings(self, req: GatewayRequest) -> GatewayResponse:
        try:
            ctx = await self._authorized(req, "embeddings")
        except _Refused as refused:
            return refused.response
        outcome = RouteOutcome()

        async def call(ctx: CallContext) -> EmbeddingResult:
            async def attempt(attempt: Attempt) -> EmbeddingResult:
                return await self.client_for(attempt).embeddings(upstream_for(attempt), ctx.body)

            return await self.router.run(ctx.route, attempt, outcome=outcome)

        try:
            body, _ = await self.execute(ctx, outcome, call)
        except GatewayError as exc:
            return self.fail(req, ctx.record, exc, outcome, ctx)
        headers = self.finish(req, ctx.record, outcome) | ctx.headers
        return GatewayResponse(status=200, body=body, headers=headers, record=ctx.record)

    async def chat_as_app(self, req: GatewayRequest, *, caller: KeyEntry) -> GatewayResponse:
        """The portal's try-it panel of a model API: chat as the app `caller` names — no key to verify — then
        exactly chat's steps, recorded as a "try_it" call of the app."""
        return await self.chat(req, caller=caller)

    async def chat(self, req: GatewayRequest, *, caller: KeyEntry | None = None) -> GatewayResponse:
        try:
            endpoint = "chat" if caller is None else "try_it"
            ctx = await self._authorized(req, endpoint, stream=bool(req.body.get("stream")), caller=caller)
        except _Refused as refused:
            return refused.response
        outcome = RouteOutcome()
        record = ctx.record
        try:
            if ctx.stream:
                opened = await self.open_stream(ctx, outcome)
                include_usage = bool((req.body.get("stream_options") or {}).get("include_usage"))
                return GatewayResponse(
                    status=200,
                    stream=self._relay(opened, include_usage),
                    headers=self.headers(record) | ctx.headers,
                    record=record,
                )
            body, _ = await self.execute(ctx, outcome, self.chat_call(outcome))
        except GatewayError as exc:
            return self.fail(req, record, exc, outcome, ctx)
        headers = self.finish(req, record, outcome) | ctx.headers
        return GatewayResponse(status=200, body=body, headers=headers, record=record)

    def _relay(self, opened: StreamCall, include_usage: bool) -> AsyncIterator[bytes]:
        """Server-sent events of the stream. Failover happened until its first chunk; after that, bytes have been
        sent and an upstream failure ends the stream with an error event instead of a silent retry."""

        def broken(exc: ProviderError) -> bytes:
            message = f"The upstream stream failed: {failure(exc, opened.outcome.deployment)}."
            return sse_event(UpstreamError(message, code="upstream_stream_error").envelope())

        render = sse_event if include_usage else _sse_with_choices
        return self.relay(opened, render, done=_sse_done, broken=broken)


def _sse_with_choices(chunk: dict[str, Any]) -> bytes | None:
    # The gateway always asks upstream for usage; the usage-only chunk goes out only when asked for.
    return sse_event(chunk) if chunk.get("choices") else None


def _sse_done() -> tuple[bytes]:
    return (SSE_DONE,)


class _Refused(Exception):
    """Authentication or authorization refused the call: its answer, already recorded."""

    def __init__(self, response: GatewayResponse) -> None:
        super().__init__()
        self.response = response
