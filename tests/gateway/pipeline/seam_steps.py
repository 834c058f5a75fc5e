"""Policy steps that note what they hear, and the pipeline and surfaces to run them on, for the seam's tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from apps.gateway.pipeline.errors import LimitExceeded
from apps.gateway.pipeline.invoke import RunOutcome, ServiceInvoker
from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.policies.base import Answer, CallContext, PolicyStep
from apps.gateway.pipeline.snapshot import PromptEntry, PromptVersionEntry, Snapshot
from apps.gateway.pipeline.types import GatewayRequest
from apps.providers.clients.base import ChatStream, ProviderError, Usage
from apps.providers.clients.echo import EchoClient
from tests.entries import service_entry
from tests.gateway.pipeline.fakes import HmacVerifier, ListSink, StaticConfig, deployment, key, route

KEY = "gwk_abcdefghijkl_" + "s" * 43
LIMIT_HEADERS = {"X-RateLimit-Limit-Requests": "2", "X-RateLimit-Remaining-Requests": "0"}


class Seen:
    """What a step saw at after_call / on_failure."""

    def __init__(self, ctx: CallContext, error: BaseException | None = None) -> None:
        self.usage, self.cost, self.answer, self.error = ctx.usage, ctx.cost, ctx.answer, error


class RecordingStep(PolicyStep):
    def __init__(
        self,
        name: str,
        log: list[tuple[str, str]],
        *,
        refuse: bool = False,
        answer: Answer | None = None,
        wants_stream_answer: bool = False,
    ) -> None:
        self.name, self.log, self.refuse, self.answer = name, log, refuse, answer
        self.wants_answer = wants_stream_answer
        self.seen: list[Seen] = []

    def wants_stream_answer(self, ctx: CallContext) -> bool:
        return self.wants_answer

    async def admit(self, ctx: CallContext) -> None:
        self.log.append((self.name, "admit"))
        ctx.headers[f"X-Step-{self.name}"] = "admitted"
        if self.refuse:
            raise LimitExceeded("Too many requests.", code="requests_per_minute", limit_headers=LIMIT_HEADERS)

    async def before_call(self, ctx: CallContext) -> Answer | None:
        self.log.append((self.name, "before_call"))
        return self.answer

    async def after_call(self, ctx: CallContext) -> None:
        self.log.append((self.name, "after_call"))
        self.seen.append(Seen(ctx))

    async def on_failure(self, ctx: CallContext, error: BaseException | None) -> None:
        self.log.append((self.name, "on_failure"))
        self.seen.append(Seen(ctx, error))


class CountingEcho(EchoClient):
    """The built-in echo provider, counting the upstream calls; `fail` makes every call fail, `fail_midstream`
    breaks streams after their first chunk."""

    def __init__(self, *, fail: bool = False, fail_midstream: bool = False) -> None:
        super().__init__()
        self.calls = 0
        self.fail, self.fail_midstream = fail, fail_midstream

    async def chat(self, upstream, request):
        self.calls += 1
        if self.fail:
            raise ProviderError("upstream down", kind="server_error", retryable=False)
        return await super().chat(upstream, request)

    async def embeddings(self, upstream, request):
        self.calls += 1
        if self.fail:
            raise ProviderError("upstream down", kind="server_error", retryable=False)
        return await super().embeddings(upstream, request)

    def chat_stream(self, upstream, request):
        self.calls += 1
        inner = super().chat_stream(upstream, request)
        fail, fail_midstream = self.fail, self.fail_midstream

        async def chunks():
            if fail:
                raise ProviderError("upstream down", kind="server_error", retryable=False)
            async for chunk in inner:
                yield chunk
                if fail_midstream:
                    raise ProviderError("connection reset", kind="connect", retryable=True)

        return ChatStream(chunks(), request)


class Pool:
    def __init__(self, client: EchoClient) -> None:
        self.client = client

    def client_for(self, deployment):
        return self.client

    async def aclose(self) -> None:
        return None


VERSION = PromptVersionEntry(
    number=1,
    system="",
    user="{{ text }}",
    examples=(),
    parameters={},
    variables_validator=Draft202012Validator({"type": "object", "properties": {"text": {"type": "string"}}}),
)
SERVICE = service_entry(
    service_id=5, slug="svc", prompt=PromptEntry(live=1, split=(), sticky_by="app", versions={1: VERSION})
)


def make(
    steps=(), client: EchoClient | None = None, *, service=SERVICE, services=None, tenant=1, subscriptions=None
) -> tuple[GatewayPipeline, ServiceInvoker, ListSink]:
    """The pipeline with `steps`; the key is of app 7 of `tenant`, the route `smart` and the service of tenant 1."""
    snapshot = Snapshot.build(
        version=1,
        keys=[key(KEY, tenant_id=tenant)],
        routes=[route(deployment(1))],
        services=services or [service],
        subscriptions=subscriptions,
    )
    sink = ListSink()
    pipeline = GatewayPipeline(
        config=StaticConfig(snapshot),
        keys=HmacVerifier(),
        clients=Pool(client or CountingEcho()),
        sink=sink,
        steps=steps,
    )
    return pipeline, ServiceInvoker(pipeline), sink


def request(body: dict[str, Any]) -> GatewayRequest:
    return GatewayRequest(
        request_id="req_1", api_key=KEY, body=body, received=time.perf_counter(), received_wall=time.time()
    )


def chat_body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": "smart", "messages": [{"role": "user", "content": "one two three"}], "stream": stream, **extra}


def events(raw: list[bytes]) -> list[dict[str, Any] | str]:
    """The SSE payloads of a stream's bytes: dicts, and "[DONE]"."""
    out: list[dict[str, Any] | str] = []
    for part in b"".join(raw).split(b"\n\n"):
        if part:
            payload = part.removeprefix(b"data: ")
            out.append("[DONE]" if payload == b"[DONE]" else orjson.loads(payload))
    return out


class Ran:
    """How one surface's call ended, as its caller saw it."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None, stream=None) -> None:
        self.status, self.body, self.headers, self.stream = status, body, headers or {}, stream


async def _response(response) -> Ran:
    if response.stream is None:
        return Ran(response.status, response.body, response.headers)
    return Ran(response.status, None, response.headers, events([part async for part in response.stream]))


async def run_chat(pipeline, invoker) -> Ran:
    return await _response(await pipeline.chat(request(chat_body())))


async def run_chat_stream(pipeline, invoker) -> Ran:
    return await _response(await pipeline.chat(request(chat_body(stream=True))))


async def run_embeddings(pipeline, invoker) -> Ran:
    return await _response(await pipeline.embeddings(request({"model": "smart", "input": "one two"})))


async def run_invoke(pipeline, invoker) -> Ran:
    return await _response(await invoker.invoke(request({"text": "one two three"}), slug="svc"))


async def run_invoke_stream(pipeline, invoker) -> Ran:
    return await _response(await invoker.invoke(request({"text": "one two three"}), slug="svc", stream=True))


async def run_try_it(pipeline, invoker) -> Ran:
    caller = key(KEY)  # the app the person acts for; no key is verified
    return await _response(await invoker.invoke_as_app(request({"text": "one two three"}), caller=caller, slug="svc"))


async def run_try_it_chat(pipeline, invoker) -> Ran:
    caller = key(KEY)  # a model API's try-it: /v1 chat as the app the person acts for
    return await _response(await pipeline.chat_as_app(request(chat_body()), caller=caller))


async def _run_version(invoker, stream: bool) -> Ran:
    deltas: list[str] = []
    outcome: RunOutcome | None = None
    async for event in invoker.run_version(
        request({"text": "one two three"}), tenant_id=1, slug="svc", version=VERSION, stream=stream, endpoint="test"
    ):
        if isinstance(event, str):
            deltas.append(event)
        else:
            outcome = event
    assert outcome is not None
    status = outcome.error.status if outcome.error is not None else 200
    return Ran(status, {"output": outcome.output, "error": outcome.error}, stream=deltas if stream else None)


async def run_version(pipeline, invoker) -> Ran:
    return await _run_version(invoker, stream=False)


async def run_version_stream(pipeline, invoker) -> Ran:
    return await _run_version(invoker, stream=True)


SURFACES: dict[str, Callable] = {
    "chat": run_chat,
    "chat stream": run_chat_stream,
    "embeddings": run_embeddings,
    "invoke": run_invoke,
    "invoke stream": run_invoke_stream,
    "try-it": run_try_it,
    "try-it chat": run_try_it_chat,
    "run_version": run_version,
    "run_version stream": run_version_stream,
}
STREAMS = ("chat stream", "invoke stream", "run_version stream")

CACHED = {
    "id": "chatcmpl-cached",
    "object": "chat.completion",
    "created": 1,
    "model": "cached-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "from the cache"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
}


def cached_answer() -> Answer:
    return Answer(body=CACHED, usage=Usage(3, 3), source="cache")


ZERO = Decimal(0)
