"""Invoking a published service (a prompt API): the same pipeline as /v1 and the same request skeleton (seam.py),
with the service's own steps — visibility, subscription, input schema, prompt version (A/B), rendering, and
output checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from apps.gateway.pipeline.capture import capture_bodies
from apps.gateway.pipeline.errors import (
    GatewayError,
    InvalidInput,
    InvalidOutput,
    InvalidRequest,
    NotSubscribed,
    ServiceNotFound,
    ServiceNotInvocable,
)
from apps.gateway.pipeline.pipeline import GatewayPipeline, require_gateway_scope
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.router import Attempt, RouteOutcome
from apps.gateway.pipeline.seam import StreamCall, upstream_for
from apps.gateway.pipeline.snapshot import (
    INVOCABLE_LIFECYCLES,
    KeyEntry,
    PromptVersionEntry,
    RouteEntry,
    ServiceEntry,
    Snapshot,
    SubscriptionEntry,
)
from apps.gateway.pipeline.streams import SSE_DONE, sse_event
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.prompts.ab import choose_version
from apps.prompts.rendering import PromptParts, TemplateError, render_messages
from apps.providers.clients.base import ChatResult, ProviderError, Usage


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(body)"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run of a given prompt version ended (run_version): its output text or its error, and its cost."""

    request_id: str
    output: str
    usage: Usage
    cost: Decimal
    latency_ms: float
    error: GatewayError | None = None


class ServiceInvoker:
    def __init__(self, pipeline: GatewayPipeline) -> None:
        self._p = pipeline

    # 2. authorize: visible, invocable, subscribed (own tenant: only when the tenant asks for it)
    def authorize(
        self, snapshot: Snapshot, key: KeyEntry, slug: str, now: float
    ) -> tuple[ServiceEntry, SubscriptionEntry | None]:
        """The service, and the subscription the call is made under (None for the tenant's own service called
        without one)."""
        service = snapshot.services.get(slug)
        if service is None or not service.visible_to(key.tenant_id):
            raise ServiceNotFound(f"No service {slug!r} is visible to your tenant.")
        if service.lifecycle not in INVOCABLE_LIFECYCLES:
            raise ServiceNotInvocable(f"Service {slug!r} is {service.lifecycle}: only published services answer.")
        if service.kind != "prompt":
            raise InvalidRequest(f"Service {slug!r} is a model API: call /v1/chat/completions with model={slug!r}.")
        if key.tenant_id == service.tenant_id and not service.require_internal_subscription:
            return service, None
        sub = snapshot.subscriptions.get((key.app_id, service.service_id))
        hint = f"Request one with POST /api/v1/tenants/{key.tenant_slug}/subscriptions/ for app {key.app_slug!r}."
        if sub is None or sub.status in ("rejected", "revoked"):
            raise NotSubscribed(f"App {key.app_slug!r} has no subscription to {slug!r}. {hint}")
        if sub.status == "pending":
            raise NotSubscribed(
                f"The subscription to {slug!r} awaits approval by its owners.", code="subscription_pending"
            )
        if sub.status == "suspended":
            raise NotSubscribed(f"The subscription to {slug!r} is suspended.", code="subscription_suspended")
        if sub.expired_at(now):
            raise NotSubscribed(
                f"The subscription to {slug!r} has expired: ask for a renewal.", code="subscription_expired"
            )
        return service, sub

    @staticmethod
    def choose(service: ServiceEntry, key: KeyEntry, conversation_id: str | None) -> PromptVersionEntry:
        prompt = service.prompt
        if prompt is None or prompt.live not in prompt.versions:
            raise ServiceNotInvocable(f"Service {service.slug!r} has no live prompt version.")
        if prompt.sticky_by == "conversation" and conversation_id:
            sticky = f"{service.service_id}:conversation:{conversation_id}"
        else:
            sticky = f"{service.service_id}:app:{key.app_id}"
        number = choose_version(live=prompt.live, split=prompt.split, sticky_key=sticky)
        return prompt.versions.get(number, prompt.versions[prompt.live])

    @staticmethod
    def validate_input(version: PromptVersionEntry, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise InvalidInput(
                "The body must be a JSON object of the service's input.", fields={"(body)": "not an object"}
            )
        errors = sorted(version.variables_validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
        if errors:
            fields = {_path(e): e.message for e in errors}
            first = next(iter(fields))
            raise InvalidInput(
                f"The input does not match the service's schema: {first}: {fields[first]}", fields=fields, param=first
            )
        return payload

    @staticmethod
    def chat_body(service: ServiceEntry, version: PromptVersionEntry, variables: dict[str, Any]) -> dict[str, Any]:
        parts = PromptParts(system=version.system, user=version.user, examples=version.examples)
        try:
            messages = render_messages(parts, variables)
        except TemplateError as exc:
            raise InvalidRequest(exc.message, param=exc.variable) from None
        body: dict[str, Any] = {**version.parameters, "model": service.route_alias, "messages": messages}
        if service.output_mode == "json":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": service.output_schema, "strict": False},
            }
        return body

    @staticmethod
    def route(snapshot: Snapshot, service: ServiceEntry) -> RouteEntry:
        route = snapshot.routes.get((service.tenant_id, service.route_alias))
        if route is None or not route.deployments:
            raise ServiceNotInvocable(f"Service {service.slug!r} has no route with an enabled deployment.")
        return route

    async def refuse(self, req: GatewayRequest, refusal: GatewayError) -> GatewayResponse:
        """An invocation whose body or query the edge refused, answered after the key is checked."""
        return await self._p.refuse(req, refusal, endpoint="invoke")

    async def invoke_as_app(self, req: GatewayRequest, *, caller: KeyEntry, slug: str) -> GatewayResponse:
        """The portal's try-it panel: invoke as the app `caller` names, whom the person's session was allowed to act
        for — no key to verify — then exactly invoke's steps, recorded as a "try_it" call of the app."""
        return await self.invoke(req, slug=slug, caller=caller)

    async def invoke(
        self,
        req: GatewayRequest,
        *,
        slug: str,
        stream: bool = False,
        conversation_id: str | None = None,
        caller: KeyEntry | None = None,
    ) -> GatewayResponse:
        p = self._p
        snapshot, record = await p.begin(req, "invoke" if caller is None else "try_it")
        record.stream = stream
        outcome = RouteOutcome()
        service: ServiceEntry | None = None
        ctx: CallContext | None = None
        try:
            key = await p.caller_or_key(snapshot, record, req, caller)
            require_gateway_scope(key)  # invoking is a gateway call: a catalog-only key reads the catalog, no more
            service, subscription = self.authorize(snapshot, key, slug, p.now())
            record.service_id = service.service_id
            version = self.choose(service, key, conversation_id)
            body = self.chat_body(service, version, self.validate_input(version, req.body))
            route = self.route(snapshot, service)
            ctx = p.context(
                req,
                record,
                snapshot,
                tenant_id=key.tenant_id,
                key=key,
                route=route,
                body=body,
                service=service,
                subscription=subscription,
                stream=stream,
            )
            extra = {"X-Service-Version": str(version.number)}
            if service.lifecycle == "deprecated":
                extra |= {"Deprecation": "true", "Warning": f'299 - "Service {slug} is deprecated"'}
            if stream:
                opened = await p.open_stream(ctx, outcome)
                return GatewayResponse(
                    status=200,
                    stream=self._relay(opened, version.number, service),
                    headers=p.headers(record) | ctx.headers | extra,
                    record=record,
                )
            answer, usage = await p.execute(ctx, outcome, self._complete(outcome, service))
            output = self._output(service, answer)
        except GatewayError as exc:
            if service is not None:
                capture_bodies(record, service, req.body, exc.envelope())
            return p.fail(req, record, exc, outcome, ctx)
        capture_bodies(record, service, req.body, output)
        headers = p.finish(req, record, outcome) | ctx.headers | extra
        answer = {
            "output": output,
            "usage": usage.to_openai(),
            "version": version.number,
            "request_id": req.request_id,
        }
        return GatewayResponse(status=200, body=answer, headers=headers, record=record)

    def _complete(self, outcome: RouteOutcome, service: ServiceEntry) -> Callable[[CallContext], Awaitable[ChatResult]]:
        """The call the policy steps see: one upstream call; for JSON services the output must parse and match
        the schema, with one retry (two upstream calls at most, their usage added up)."""
        p = self._p

        async def complete(ctx: CallContext) -> ChatResult:
            async def call(attempt: Attempt) -> ChatResult:
                return await p.client_for(attempt).chat(upstream_for(attempt), ctx.body)

            usage = Usage()
            for attempt_number in (1, 2):
                result = await p.router.run(ctx.route, call, outcome=outcome)
                usage = Usage(
                    prompt_tokens=usage.prompt_tokens + result.usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens + result.usage.completion_tokens,
                    estimated=usage.estimated or result.usage.estimated,
                    cached_prompt_tokens=usage.cached_prompt_tokens + result.usage.cached_prompt_tokens,
                )
                if service.output_mode != "json":
                    return ChatResult(result.body, usage)
                problem = self._json_problem(service, _text(result.body))
                if problem is None:
                    return ChatResult(result.body, usage)
                if attempt_number == 2:
                    raise InvalidOutput(
                        f"The model's output did not match the service's output schema twice: {problem}"
                    )
            raise AssertionError("unreachable")

        return complete

    def _output(self, service: ServiceEntry, answer: dict[str, Any]) -> Any:
        """The service's output from a chat.completion: its text, or for JSON services the value it holds (checked
        again: the answer may be a step's, such as a cached one)."""
        text = _text(answer)
        if service.output_mode != "json":
            return text
        problem = self._json_problem(service, text)
        if problem is not None:
            raise InvalidOutput(f"The answer did not match the service's output schema: {problem}")
        return orjson.loads(text)

    @staticmethod
    def _json_problem(service: ServiceEntry, text: str) -> str | None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return "not valid JSON"
        if service.output_validator is not None:
            error = next(iter(service.output_validator.iter_errors(value)), None)
            if error is not None:
                return f"{_path(error)}: {error.message}"
        return None

    def _relay(self, opened: StreamCall, version: int, service: ServiceEntry) -> AsyncIterator[bytes]:
        """Service streams carry text deltas, then a final event with usage, version and request id."""
        req = opened.ctx.request
        render, capture = self._texts(opened, service)

        def delta(chunk: dict[str, Any]) -> bytes | None:
            text = render(chunk)
            return sse_event({"type": "delta", "text": text}) if text is not None else None

        def done() -> tuple[bytes, ...]:
            usage = opened.usage.to_openai()
            end = {"type": "done", "usage": usage, "version": version, "request_id": req.request_id}
            return sse_event(end), SSE_DONE

        def broken(exc: ProviderError) -> bytes:
            message = f"The upstream stream failed: {exc.message}"
            return sse_event(GatewayError(message, code="upstream_stream_error").envelope())

        return self._p.relay(opened, delta, done=done, broken=broken, on_end=capture)

    @staticmethod
    def _texts(
        opened: StreamCall, service: ServiceEntry
    ) -> tuple[Callable[[dict[str, Any]], str | None], Callable[[], None]]:
        """The text delta of a chunk (None when it has none), and the capture of the bodies once the stream is
        over, before its record is handed over (the skeleton's `relay` calls it, however the stream ended)."""
        req, record = opened.ctx.request, opened.ctx.record
        texts: list[str] = []

        def render(chunk: dict[str, Any]) -> str | None:
            text = "".join((choice.get("delta") or {}).get("content") or "" for choice in chunk.get("choices") or ())
            if not text:
                return None
            if service.capture_bodies_days:
                texts.append(text)
            return text

        def capture() -> None:
            capture_bodies(record, service, req.body, "".join(texts))

        return render, capture

    async def run_version(
        self,
        req: GatewayRequest,
        *,
        tenant_id: int,
        slug: str,
        version: PromptVersionEntry,
        stream: bool,
        endpoint: str,
    ) -> AsyncIterator[str | RunOutcome]:
        """Run a given version of one of the tenant's prompt services (a draft, or any other) with the variables in
        req.body, from the portal rather than with an app's key: the playground and test runs. The same steps as
        invoke after authorization — input schema, rendering, route, policy steps, failover, JSON output checks,
        accounting, capture — and a call record of the tenant without an app, under `endpoint`. Yields the text
        deltas when streaming, then exactly one RunOutcome."""
        p = self._p
        snapshot, record = await p.begin(req, endpoint)
        record.stream, record.tenant_id = stream, tenant_id
        outcome = RouteOutcome()
        service = snapshot.services.get(slug)
        ctx: CallContext | None = None
        pieces: list[str] = []
        try:
            if service is None or service.tenant_id != tenant_id or service.kind != "prompt":
                raise ServiceNotFound(f"Your tenant has no prompt service {slug!r}.")
            record.service_id = service.service_id
            body = self.chat_body(service, version, self.validate_input(version, req.body))
            route = self.route(snapshot, service)
            ctx = p.context(
                req, record, snapshot, tenant_id=tenant_id, key=None, route=route, body=body, service=service
            )
            ctx.stream = stream
            if stream:
                opened = await p.open_stream(ctx, outcome)
                render, capture = self._texts(opened, service)
                async with aclosing(self._p.relay(opened, render, on_end=capture)) as texts:
                    async for text in texts:
                        pieces.append(text)
                        yield text
                usage = opened.usage
                output = "".join(pieces)
            else:
                answer, usage = await p.execute(ctx, outcome, self._complete(outcome, service))
                value = self._output(service, answer)
                output = value if isinstance(value, str) else orjson.dumps(value).decode()
                capture_bodies(record, service, req.body, output)
                p.finish(req, record, outcome)
        except GatewayError as exc:
            if service is not None and service.tenant_id == tenant_id:
                capture_bodies(record, service, req.body, exc.envelope())
            p.fail(req, record, exc, outcome, ctx)
            yield RunOutcome(req.request_id, "", Usage(), record.cost, record.latency_ms, error=exc)
            return
        except ProviderError as exc:  # a stream that failed midway: its record is already handed over
            error = GatewayError(f"The upstream stream failed: {exc.message}", code="upstream_stream_error")
            yield RunOutcome(req.request_id, "".join(pieces), usage_of(record), record.cost, record.latency_ms, error)
            return
        yield RunOutcome(req.request_id, output, usage, record.cost, record.latency_ms)

    async def end_of_loop(self) -> None:
        """For a caller on an event loop of its own that is about to end (a Celery task, a synchronous view):
        Seam.end_of_loop."""
        await self._p.end_of_loop()


def _text(answer: dict[str, Any]) -> str:
    return str(((answer.get("choices") or [{}])[0].get("message") or {}).get("content") or "")


def usage_of(record: CallRecord) -> Usage:
    return Usage(
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        estimated=record.usage_estimated,
    )
