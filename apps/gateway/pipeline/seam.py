"""The request skeleton every surface runs (chat, embeddings, invoke, try-it, the playground and test runs): the
call's record, the policy steps' four moments around the upstream call (policies/base.py), accounting, and the
record handed to the sink. A surface authenticates and authorizes, builds the CallContext, then calls `execute`
(one answer) or `open_stream` and `relay` (a stream); what it does with the answer is its own."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from apps.gateway.pipeline.errors import GatewayError
from apps.gateway.pipeline.policies.base import Answer, CallContext, PolicyStep
from apps.gateway.pipeline.ports import CallSink, ClientPool, ConfigSource, KeyVerifier
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.router import Attempt, RouteOutcome, Router
from apps.gateway.pipeline.snapshot import KeyEntry, RouteEntry, ServiceEntry, Snapshot, SubscriptionEntry
from apps.gateway.pipeline.streams import StreamAnswer, replay
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse
from apps.providers.clients.base import ChatStream, ProviderClient, ProviderError, Upstream, Usage

_log = logging.getLogger(__name__)

T = TypeVar("T")


class Result(Protocol):
    """What an upstream call gives (ChatResult, EmbeddingResult)."""

    body: dict[str, Any]
    usage: Usage


def upstream_for(attempt: Attempt) -> Upstream:
    dep = attempt.deployment
    return Upstream(
        base_url=dep.base_url,
        api_key=dep.api_key,
        model=dep.upstream_model,
        timeout=attempt.timeout,
        options=dep.provider_options,
    )


def log_provider_failure(record: CallRecord, outcome: RouteOutcome, error: ProviderError) -> None:
    """The provider's own account of a failure (URL, status, body), for operators: the caller is told only which
    provider failed and how (router.failure)."""
    provider = outcome.deployment.provider_slug if outcome.deployment is not None else "?"
    _log.warning("request %s: route %r, provider %r: %s", record.request_id, record.route, provider, error.message)


@dataclass(slots=True)
class StreamCall:
    """A stream that `open_stream` opened: the upstream's (its first chunk already read), or an answer a step
    gave, replayed. `relay` sends it."""

    ctx: CallContext
    outcome: RouteOutcome
    admitted: Sequence[PolicyStep]
    stream: ChatStream | None = None
    first: dict[str, Any] | None = None
    answer: Answer | None = None

    @property
    def usage(self) -> Usage:
        """What the stream reports as its usage, once it is over."""
        if self.answer is not None:
            return self.answer.usage
        return (self.stream.usage if self.stream is not None else None) or Usage()


_NO_STEPS: tuple[PolicyStep, ...] = ()


class Seam:
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
        steps: Sequence[PolicyStep] = (),
    ) -> None:
        self._config = config
        self._keys = keys
        self._clients = clients
        self._sink = sink
        self.router = router or Router()
        self._clock = clock
        self._wall = wall_clock
        self.steps = tuple(steps)

    def now(self) -> float:
        """The wall clock (unix seconds)."""
        return self._wall()

    def client_for(self, attempt: Attempt) -> ProviderClient:
        return self._clients.client_for(attempt.deployment)

    async def aclose(self) -> None:
        """At shutdown: write the buffered call records, close the pooled upstream connections."""
        try:
            await self._sink.aclose()
        finally:
            await self._clients.aclose()

    async def end_of_loop(self) -> None:
        """For a caller on an event loop of its own that is about to end (a Celery task, a synchronous view):
        let the steps finish what is under way (settlements, cache writes), write the buffered call records, and
        close this loop's connections (Redis, pooled upstreams), which would otherwise outlive their loop."""
        try:
            for step in self.steps:
                await step.end_of_loop()
            await self._sink.flush()
        finally:
            await self._clients.aclose()

    # The call's record: begun when the request arrives, closed and handed to the sink once, when it ends.
    async def begin(self, req: GatewayRequest, endpoint: str) -> tuple[Snapshot, CallRecord]:
        record = CallRecord(request_id=req.request_id, created=req.received_wall, endpoint=endpoint)
        return await self._config.current(), record

    @staticmethod
    def identify(record: CallRecord, key: KeyEntry) -> None:
        record.tenant_id, record.app_id, record.key_prefix = key.tenant_id, key.app_id, key.prefix

    @staticmethod
    def headers(record: CallRecord) -> dict[str, str]:
        return {"X-Request-Id": record.request_id, "X-Gateway-Overhead-Ms": f"{record.overhead_ms:.3f}"}

    def clock(self) -> float:
        """The clock calls are timed with (monotonic seconds)."""
        return self._clock()

    def finish(self, req: GatewayRequest, record: CallRecord, outcome: RouteOutcome | None) -> dict[str, str]:
        """Close the record's timings and hand it to the sink; returns the response headers."""
        self.record_call(record, outcome, started=req.received)
        return self.headers(record)

    def record_call(self, record: CallRecord, outcome: RouteOutcome | None, *, started: float) -> None:
        """Close the timings of a call begun at `started` (clock()) and hand its record to the sink: a request's, or
        a call the gateway makes for one (the semantic cache's embedding)."""
        record.latency_ms = (self._clock() - started) * 1000
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

    def fail(
        self,
        req: GatewayRequest,
        record: CallRecord,
        exc: GatewayError,
        outcome: RouteOutcome | None = None,
        ctx: CallContext | None = None,
    ) -> GatewayResponse:
        """The error answer, recorded; it carries the steps' headers (X-RateLimit-* on a 429) and the error's."""
        record.status, record.error_type = exc.status, exc.code or exc.type
        if outcome is not None and outcome.error is not None and exc.status >= 500:
            log_provider_failure(record, outcome, outcome.error)
        headers = self.finish(req, record, outcome)
        if ctx is not None and ctx.headers:
            headers |= ctx.headers
        headers |= exc.headers()
        return GatewayResponse(status=exc.status, body=exc.envelope(), headers=headers, record=record)

    @staticmethod
    def account(record: CallRecord, usage: Usage, outcome: RouteOutcome) -> None:
        record.prompt_tokens, record.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        record.usage_estimated = usage.estimated
        if outcome.deployment is not None:
            record.cost = outcome.deployment.cost(
                usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens
            )

    def context(
        self,
        req: GatewayRequest,
        record: CallRecord,
        snapshot: Snapshot,
        *,
        tenant_id: int,
        key: KeyEntry | None,
        route: RouteEntry,
        body: dict[str, Any],
        service: ServiceEntry | None = None,
        subscription: SubscriptionEntry | None = None,
        stream: bool = False,
    ) -> CallContext:
        record.route = route.alias
        return CallContext(
            request=req,
            record=record,
            snapshot=snapshot,
            tenant_id=tenant_id,
            key=key,
            route=route,
            body=body,
            service=service,
            subscription=subscription,
            stream=stream,
            now=req.received_wall,
        )

    # The skeleton. Each admitted step hears exactly one of after_call / on_failure, in reverse order.
    async def execute(
        self, ctx: CallContext, outcome: RouteOutcome, call: Callable[[CallContext], Awaitable[Result]]
    ) -> tuple[dict[str, Any], Usage]:
        """Admit, ask the steps before the call, make the call (`call` reads ctx.route and ctx.body, which a step
        may have changed) unless a step answered, account; returns the answer's body and usage."""
        admitted = await self._admit(ctx) if self.steps else _NO_STEPS
        try:
            answer = await self._before(admitted, ctx) if admitted else None
            if answer is None:
                result = await call(ctx)
                body, usage = result.body, result.usage
                self.account(ctx.record, usage, outcome)
                ctx.usage, ctx.cost = usage, ctx.record.cost
            else:
                body, usage = answer.body, answer.usage
                self._answered(ctx, answer)
            ctx.answer = body
            ctx.record.status = 200
        except BaseException as exc:
            await self._failed(admitted, ctx, exc)
            raise
        await self._succeeded(admitted, ctx)
        return body, usage

    async def open_stream(self, ctx: CallContext, outcome: RouteOutcome) -> StreamCall:
        """Admit, ask the steps before the call, and open the upstream stream (failover until its first chunk),
        unless a step answered: then its answer is replayed as a stream."""
        admitted = await self._admit(ctx) if self.steps else _NO_STEPS
        try:
            answer = await self._before(admitted, ctx) if admitted else None
            if answer is None:
                stream, first = await self.router.run(ctx.route, self.stream_opener(ctx.body), outcome=outcome)
                opened = StreamCall(ctx, outcome, admitted, stream=stream, first=first)
            else:
                self._answered(ctx, answer)
                opened = StreamCall(ctx, outcome, admitted, answer=answer)
        except BaseException as exc:
            await self._failed(admitted, ctx, exc)
            raise
        record = ctx.record
        record.ttft_ms = (self._clock() - ctx.request.received) * 1000
        # Headers go out now: the overhead so far is everything but the wait for the first chunk.
        record.overhead_ms = max(0.0, record.ttft_ms - outcome.upstream_seconds * 1000)
        return opened

    def stream_opener(self, body: dict[str, Any]) -> Callable[[Attempt], Awaitable[tuple[ChatStream, dict[str, Any]]]]:
        """An attempt for the router that opens a stream and waits for its first chunk: failover is possible
        until then, and only until then."""

        async def open_stream(attempt: Attempt) -> tuple[ChatStream, dict[str, Any]]:
            stream = self.client_for(attempt).chat_stream(upstream_for(attempt), body)
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

    async def relay(
        self,
        opened: StreamCall,
        render: Callable[[dict[str, Any]], T | None],
        *,
        done: Callable[[], Iterable[T]] | None = None,
        broken: Callable[[ProviderError], T] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> AsyncGenerator[T, None]:
        """The stream as the surface sends it, in one generator (a layer per surface would cost on every chunk):
        `render` turns each chunk (the usage-only one included) into what goes out, or None; `done` gives what
        follows a completed stream; `broken` what ends a stream that failed midway (without it, the
        ProviderError is raised on). When the stream ends — completed (200), failed midway (502) or abandoned by
        the caller (499) — the call is accounted, the steps hear after_call or on_failure, `on_end` runs and
        the record is handed over."""
        ctx, outcome, stream = opened.ctx, opened.outcome, opened.stream
        record = ctx.record
        record.status = 499  # until the stream completes: a client that goes away is recorded as such
        wants_answer = opened.admitted and any(step.wants_stream_answer(opened.ctx) for step in opened.admitted)
        assembled = StreamAnswer() if wants_answer else None
        error: BaseException | None = None
        since = self._clock()
        try:
            if opened.answer is not None:
                for chunk in replay(opened.answer.body, include_usage=True):
                    if (out := render(chunk)) is not None:
                        yield out
            elif stream is not None:
                item: dict[str, Any] | None = opened.first
                while item is not None:
                    if not record.model and item.get("model"):
                        record.model = str(item["model"])
                    if assembled is not None:
                        assembled.add(item)
                    if (out := render(item)) is not None:
                        yield out
                    item = await anext(stream, None)
            record.status = 200
            if done is not None:
                for out in done():
                    yield out
        except ProviderError as exc:
            record.status, record.error_type = 502, f"midstream_{exc.kind}"
            log_provider_failure(record, outcome, exc)
            error = exc
            if broken is None:
                raise
            yield broken(exc)
        except BaseException as exc:  # the caller went away (GeneratorExit, cancellation)
            error = exc
            raise
        finally:
            if stream is not None:
                await stream.aclose()
                outcome.upstream_seconds += self._clock() - since
                usage = stream.usage or Usage()
                self.account(record, usage, outcome)
                ctx.usage, ctx.cost = usage, record.cost
            if record.status == 200:
                if opened.answer is not None:
                    ctx.answer = opened.answer.body
                elif assembled is not None:
                    ctx.answer = assembled.body()
                await self._succeeded(opened.admitted, ctx)
            else:
                await self._failed(opened.admitted, ctx, error)
            if on_end is not None:
                on_end()
            self.finish(ctx.request, record, outcome)

    # The steps' moments.
    async def _admit(self, ctx: CallContext) -> list[PolicyStep]:
        admitted: list[PolicyStep] = []
        for step in self.steps:
            try:
                await step.admit(ctx)
            except BaseException as exc:  # a refusal: the steps admitted before it hear on_failure
                await self._failed(admitted, ctx, exc)
                raise
            admitted.append(step)
        return admitted

    @staticmethod
    async def _before(admitted: Sequence[PolicyStep], ctx: CallContext) -> Answer | None:
        for step in admitted:
            answer = await step.before_call(ctx)
            if answer is not None:
                return answer  # the steps after it are not asked
        return None

    @staticmethod
    def _answered(ctx: CallContext, answer: Answer) -> None:
        """A step answered instead of the upstream: nothing was spent upstream, nothing is charged."""
        record = ctx.record
        record.cache_hit = record.cache_hit or answer.source == "cache"
        record.model = str(answer.body.get("model") or "")
        record.cost, ctx.cost, ctx.usage = Decimal(0), Decimal(0), Usage()
        record.policy_outcomes.setdefault(answer.source, "answered")

    @staticmethod
    async def _succeeded(admitted: Sequence[PolicyStep], ctx: CallContext) -> None:
        for step in reversed(admitted):
            try:
                await step.after_call(ctx)
            except Exception:  # the answer stands; the other steps must still hear of it
                _log.exception("request %s: policy step %r failed in after_call", ctx.record.request_id, step.name)

    @staticmethod
    async def _failed(admitted: Sequence[PolicyStep], ctx: CallContext, error: BaseException | None) -> None:
        for step in reversed(admitted):
            try:
                await step.on_failure(ctx, error)
            except Exception:  # the failure the caller hears is the call's, not this one
                _log.exception("request %s: policy step %r failed in on_failure", ctx.record.request_id, step.name)
