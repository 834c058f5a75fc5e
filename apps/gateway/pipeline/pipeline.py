"""The data-plane pipeline: authenticate → authorize → route → call provider → account → record.

Both HTTP surfaces (/v1 and the invoke endpoint) are thin adapters over this class; it knows no HTTP
framework and reads configuration only from the in-memory snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from apps.gateway.pipeline.errors import (
    AuthenticationFailed,
    GatewayError,
    ModelNotFound,
    PermissionDenied,
    UpstreamError,
)
from apps.gateway.pipeline.ports import CallSink, ClientPool, ConfigSource, KeyVerifier
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.router import Attempt, RouteOutcome, Router, failure
from apps.gateway.pipeline.snapshot import KeyEntry, RouteEntry, ServiceEntry, Snapshot
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.providers.clients.base import ChatResult, ChatStream, EmbeddingResult, ProviderError, Upstream, Usage

_log = logging.getLogger(__name__)

GATEWAY_SCOPE = "gateway"
SSE_DONE = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def require_gateway_scope(key: KeyEntry) -> None:
    if GATEWAY_SCOPE not in key.scopes:
        raise PermissionDenied("This key may not call the gateway (it lacks the 'gateway' scope).")


def upstream_for(attempt: Attempt) -> Upstream:
    dep = attempt.deployment
    return Upstream(
        base_url=dep.base_url,
        api_key=dep.api_key,
        model=dep.upstream_model,
        timeout=attempt.timeout,
        options=dep.provider_options,
    )


def _log_provider_failure(record: CallRecord, outcome: RouteOutcome, error: ProviderError) -> None:
    """The provider's own account of a failure (URL, status, body), for operators: the caller is told only which
    provider failed and how (router.failure)."""
    provider = outcome.deployment.provider_slug if outcome.deployment is not None else "?"
    _log.warning("request %s: route %r, provider %r: %s", record.request_id, record.route, provider, error.message)


def _route_model(route: RouteEntry, key: KeyEntry) -> dict[str, Any]:
    return {"id": route.alias, "object": "model", "created": route.created, "owned_by": key.tenant_slug}


def _service_model(service: ServiceEntry) -> dict[str, Any]:
    return {"id": service.slug, "object": "model", "created": 0, "owned_by": f"service:{service.slug}"}


class GatewayPipeline:
    def __init__(
        self,
        *,
        config: ConfigSource,
        keys: KeyVerifier,
        clients: ClientPool,
        sink: CallSink,
        router: Router | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._keys = keys
        self._clients = clients
        self._sink = sink
        self.router = router or Router()
        self._clock = clock
        self._wall = wall_clock

    async def aclose(self) -> None:
        """At shutdown: write the buffered call records, close the pooled upstream connections."""
        try:
            await self._sink.aclose()
        finally:
            await self._clients.aclose()

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
        self, snapshot: Snapshot, key: KeyEntry, model: str, record: CallRecord | None = None
    ) -> RouteEntry:
        require_gateway_scope(key)
        route = snapshot.routes.get((key.tenant_id, model))
        if route is None:
            service = snapshot.services.get(model)
            if service is not None and snapshot.may_call_model_service(
                service, key.tenant_id, key.app_id, self._wall()
            ):
                route = snapshot.routes.get((service.tenant_id, service.route_alias))
                if record is not None:
                    record.service_id = service.service_id
        if route is None:
            raise ModelNotFound(f"The model {model!r} does not exist or you do not have access to it.", param="model")
        if not route.deployments:
            raise ModelNotFound(f"The model {model!r} has no enabled deployment.", param="model")
        return route

    async def _begin(self, req: GatewayRequest, endpoint: str) -> tuple[Snapshot, CallRecord]:
        record = CallRecord(request_id=req.request_id, created=req.received_wall, endpoint=endpoint)
        return await self._config.current(), record

    def _identify(self, record: CallRecord, key: KeyEntry) -> None:
        record.tenant_id, record.app_id, record.key_prefix = key.tenant_id, key.app_id, key.prefix

    def _finish(self, req: GatewayRequest, record: CallRecord, outcome: RouteOutcome | None) -> dict[str, str]:
        """Close the record's timings and hand it to the sink; returns the response headers."""
        record.latency_ms = (self._clock() - req.received) * 1000
        if outcome is not None:
            record.attempts = outcome.attempts
            record.upstream_ms = outcome.upstream_seconds * 1000
            record.breaker_opened_id = outcome.breaker_opened
            if outcome.deployment is not None:
                dep = outcome.deployment
                record.provider_id, record.deployment_id = dep.provider_id, dep.deployment_id
                record.model = record.model or dep.upstream_model
        record.overhead_ms = max(0.0, record.latency_ms - record.upstream_ms)
        self._sink.emit(record)
        return self.headers(record)

    @staticmethod
    def headers(record: CallRecord) -> dict[str, str]:
        return {"X-Request-Id": record.request_id, "X-Gateway-Overhead-Ms": f"{record.overhead_ms:.3f}"}

    def _fail(
        self, req: GatewayRequest, record: CallRecord, exc: GatewayError, outcome: RouteOutcome | None = None
    ) -> GatewayResponse:
        record.status, record.error_type = exc.status, exc.code or exc.type
        if outcome is not None and outcome.error is not None and exc.status >= 500:
            _log_provider_failure(record, outcome, outcome.error)
        headers = {**self._finish(req, record, outcome), **exc.headers()}
        return GatewayResponse(status=exc.status, body=exc.envelope(), headers=headers, record=record)

    def _account(self, record: CallRecord, usage: Usage, outcome: RouteOutcome) -> None:
        record.prompt_tokens, record.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        record.usage_estimated = usage.estimated
        if outcome.deployment is not None:
            record.cost = outcome.deployment.cost(usage.prompt_tokens, usage.completion_tokens)

    async def models(self, req: GatewayRequest, model_id: str | None = None) -> GatewayResponse:
        """OpenAI's model list, or one model of it (`model_id`): the routes of the key's tenant and the other
        tenants' model APIs its app may call. Any other id is a 404 that does not tell whether it exists."""
        snapshot, record = await self._begin(req, "models")
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

    async def refuse(self, req: GatewayRequest, refusal: GatewayError, *, endpoint: str) -> GatewayResponse:
        """A request whose body the edge refused: the key is checked first, as for any call (a bad key is a 401
        whatever the body), then the refusal is answered and recorded."""
        snapshot, record = await self._begin(req, endpoint)
        try:
            key = await self.authenticate(snapshot, req.api_key)
            self._identify(record, key)
            require_gateway_scope(key)
        except GatewayError as exc:
            refusal = exc
        return self._fail(req, record, refusal)

    async def embeddings(self, req: GatewayRequest) -> GatewayResponse:
        snapshot, record = await self._begin(req, "embeddings")
        outcome = RouteOutcome()
        try:
            key = await self.authenticate(snapshot, req.api_key)
            self._identify(record, key)
            route = self.resolve_route(snapshot, key, req.body["model"], record)
            record.route = route.alias

            async def call(attempt: Attempt) -> EmbeddingResult:
                client = self._clients.client_for(attempt.deployment)
                return await client.embeddings(upstream_for(attempt), req.body)

            result = await self.router.run(route, call, outcome=outcome)
        except GatewayError as exc:
            return self._fail(req, record, exc, outcome)
        record.status = 200
        self._account(record, result.usage, outcome)
        headers = self._finish(req, record, outcome)
        return GatewayResponse(status=200, body=result.body, headers=headers, record=record)

    async def chat(self, req: GatewayRequest) -> GatewayResponse:
        snapshot, record = await self._begin(req, "chat")
        record.stream = bool(req.body.get("stream"))
        outcome = RouteOutcome()
        try:
            key = await self.authenticate(snapshot, req.api_key)
            self._identify(record, key)
            route = self.resolve_route(snapshot, key, req.body["model"], record)
            record.route = route.alias
            if record.stream:
                return await self._chat_stream(req, record, route, outcome)

            async def call(attempt: Attempt) -> ChatResult:
                client = self._clients.client_for(attempt.deployment)
                return await client.chat(upstream_for(attempt), req.body)

            result = await self.router.run(route, call, outcome=outcome)
        except GatewayError as exc:
            return self._fail(req, record, exc, outcome)
        record.status = 200
        record.model = str(result.body.get("model") or "")
        self._account(record, result.usage, outcome)
        headers = self._finish(req, record, outcome)
        return GatewayResponse(status=200, body=result.body, headers=headers, record=record)

    def stream_opener(self, body: dict[str, Any]) -> Callable[[Attempt], Awaitable[tuple[ChatStream, dict[str, Any]]]]:
        """An attempt for the router that opens a stream and waits for its first chunk: failover is possible
        until then, and only until then."""

        async def open_stream(attempt: Attempt) -> tuple[ChatStream, dict[str, Any]]:
            stream = self._clients.client_for(attempt.deployment).chat_stream(upstream_for(attempt), body)
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                raise ProviderError(
                    "The provider closed the stream at once.", kind="bad_response", retryable=True
                ) from None
            except BaseException:
                await stream.aclose()
                raise
            return stream, first

        return open_stream

    async def _chat_stream(
        self, req: GatewayRequest, record: CallRecord, route: RouteEntry, outcome: RouteOutcome
    ) -> GatewayResponse:
        """Failover happens until the first chunk arrives; after that, bytes have been sent and an upstream
        failure ends the stream with an error event instead of a silent retry."""

        stream, first = await self.router.run(route, self.stream_opener(req.body), outcome=outcome)
        record.ttft_ms = (self._clock() - req.received) * 1000
        # Headers go out now: the overhead so far is everything but the wait for the first chunk.
        record.overhead_ms = max(0.0, record.ttft_ms - outcome.upstream_seconds * 1000)
        headers = self.headers(record)
        include_usage = bool((req.body.get("stream_options") or {}).get("include_usage"))
        return GatewayResponse(
            status=200,
            stream=self._relay(req, record, outcome, stream, first, include_usage),
            headers=headers,
            record=record,
        )

    async def _relay(
        self,
        req: GatewayRequest,
        record: CallRecord,
        outcome: RouteOutcome,
        stream: ChatStream,
        first: dict[str, Any],
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        streaming_since = self._clock()
        record.status = 499  # until the stream completes: a client that goes away is recorded as such
        try:
            chunk: dict[str, Any] | None = first
            while chunk is not None:
                if not record.model and chunk.get("model"):
                    record.model = str(chunk["model"])
                # The gateway always asks upstream for usage; the usage-only chunk goes out only when asked for.
                if chunk.get("choices") or include_usage:
                    yield sse_event(chunk)
                chunk = await anext(stream, None)
            record.status = 200
            yield SSE_DONE
        except ProviderError as exc:
            record.status, record.error_type = 502, f"midstream_{exc.kind}"
            _log_provider_failure(record, outcome, exc)
            message = f"The upstream stream failed: {failure(exc, outcome.deployment)}."
            yield sse_event(UpstreamError(message, code="upstream_stream_error").envelope())
        finally:
            await stream.aclose()
            outcome.upstream_seconds += self._clock() - streaming_since
            self._account(record, stream.usage or Usage(), outcome)
            self._finish(req, record, outcome)
