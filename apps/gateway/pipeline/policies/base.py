"""The policy seam: what a policy step sees of a call (CallContext) and the four moments it may act at.

Every surface (chat, embeddings, invoke, try-it, playground, and the surfaces to come) runs one request skeleton
(GatewayPipeline.execute) that calls the steps in order:

    admit(ctx)            after authentication and authorization, before anything is spent: refuse by raising a
                          GatewayError (429 rate_limit_exceeded, budget_exceeded, 403 model_not_allowed…), or change
                          ctx.route (a cheaper route when a budget is reached)
    before_call(ctx)      just before the upstream call: may change ctx.body — by giving it a new dict, never in
                          place (a step may have read it at admission) — or return an Answer that replaces the
                          call (a cache hit); the steps after it are then not asked
    after_call(ctx)       the call succeeded (for a stream: the stream completed); ctx.usage and ctx.cost are the
                          real ones (zero for a cache hit), ctx.answer the body
    on_failure(ctx, err)  the call failed, was refused by a later step, or the stream broke or was abandoned

A step that was admitted hears exactly one of after_call / on_failure, in reverse order of admission. Steps
read their configuration from ctx.snapshot and cost nothing when it configures nothing for the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import KeyEntry, RouteEntry, ServiceEntry, Snapshot, SubscriptionEntry
from apps.gateway.pipeline.types import GatewayRequest
from apps.providers.clients.base import Usage
from apps.providers.clients.tokens import count_input_tokens, count_message_tokens, counted


@dataclass(slots=True)
class Answer:
    """A complete answer in the OpenAI shape of the surface's upstream call (a chat completion or an embedding
    list), given by a step instead of the upstream (a cache hit). Streams are replayed from it."""

    body: dict[str, Any]
    usage: Usage
    source: str  # which step answered, e.g. "cache" — recorded in the call's policy outcomes


@dataclass(slots=True)
class CallContext:
    request: GatewayRequest
    record: CallRecord
    snapshot: Snapshot
    tenant_id: int
    key: KeyEntry | None  # None for portal calls made for a tenant (playground, test runs)
    route: RouteEntry
    body: dict[str, Any]  # the OpenAI-format body sent upstream (for invoke: the rendered prompt)
    service: ServiceEntry | None = None
    subscription: SubscriptionEntry | None = None  # the subscription the call is made under, if any
    stream: bool = False
    now: float = 0.0  # wall clock when the request arrived (unix seconds)
    headers: dict[str, str] = field(default_factory=dict)  # added to the answer (X-RateLimit-*, X-Cache)
    usage: Usage = field(default_factory=Usage)  # set before after_call
    cost: Decimal = Decimal(0)  # set before after_call
    answer: dict[str, Any] | None = None  # the final body, set before after_call (streams: assembled)
    state: dict[str, Any] = field(default_factory=dict)  # per-step scratch, keyed by the step's name
    _prompt_tokens: int | None = None

    @property
    def app_id(self) -> int | None:
        return self.key.app_id if self.key is not None else None

    async def prompt_tokens(self) -> int:
        """The body's prompt tokens as estimated by the gateway, counted once (off the loop when long)."""
        if self._prompt_tokens is None:
            messages = self.body.get("messages")
            if messages is not None:
                self._prompt_tokens = await counted(count_message_tokens, messages)
            else:  # embeddings: `input` is a string or a list of them (token arrays count as their length)
                self._prompt_tokens = await counted(count_input_tokens, self.body.get("input"))
        return self._prompt_tokens

    def outcome(self, step: str, what: str) -> None:
        """Note what a step did, for the call log (`policy_outcomes`)."""
        self.record.policy_outcomes[step] = what


class PolicyStep:
    """One policy: subclass and override the moments it acts at; the others do nothing."""

    name = "step"

    def wants_stream_answer(self, ctx: CallContext) -> bool:
        """Whether after_call needs ctx.answer of this streamed call (the cache, to store it): asked once the
        stream is open, so that the relay assembles the completion — a cost on every chunk — only for calls
        that need it."""
        return False

    async def admit(self, ctx: CallContext) -> None:
        return None

    async def before_call(self, ctx: CallContext) -> Answer | None:
        return None

    async def after_call(self, ctx: CallContext) -> None:
        return None

    async def on_failure(self, ctx: CallContext, error: BaseException | None) -> None:
        return None

    async def end_of_loop(self) -> None:
        """The running event loop is about to end (a synchronous view's or a task's own loop): finish what is
        under way on it (settlements, writes) and close what is held for it."""
