"""The prompt workbench's runner (apps/prompts/runner.py) on the data plane: a version of a prompt — a draft or any
other — run through the same pipeline as an invocation (ServiceInvoker.run_version): its service and route from
the snapshot, the route's failover and circuit breakers, the pooled upstream clients, accounting and the call log.
Registered by apps/gateway/apps.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from apps.gateway.http import new_request_id
from apps.gateway.pipeline.invoke import RunOutcome
from apps.gateway.pipeline.snapshot import PromptVersionEntry
from apps.gateway.pipeline.types import GatewayRequest
from apps.gateway.wiring import get_invoker, get_snapshot_store
from apps.prompts.runner import PromptRunDelta, PromptRunResult, PromptRunSpec


def _version_entry(spec: PromptRunSpec) -> PromptVersionEntry:
    schema = dict(spec.variables_schema)
    return PromptVersionEntry(
        number=spec.number,
        system=spec.system_template,
        user=spec.user_template,
        examples=tuple(dict(example) for example in spec.examples),
        parameters=dict(spec.parameters),
        # The schema was checked when the version was saved.
        variables_validator=validator_for(schema, default=Draft202012Validator)(schema),
    )


def _result(outcome: RunOutcome) -> PromptRunResult:
    error = outcome.error
    return PromptRunResult(
        request_id=outcome.request_id,
        output=outcome.output,
        error=error.message if error is not None else "",
        error_code=(error.code or error.type) if error is not None else "",
        status=error.status if error is not None else 200,
        latency_ms=outcome.latency_ms,
        prompt_tokens=outcome.usage.prompt_tokens,
        completion_tokens=outcome.usage.completion_tokens,
        cost=outcome.cost,
    )


class PipelinePromptRunner:
    async def run(
        self, *, spec: PromptRunSpec, variables: Mapping[str, Any], stream: bool, endpoint: str
    ) -> AsyncIterator[PromptRunDelta | PromptRunResult]:
        # Not the hot path: the snapshot is brought up to the committed configuration first (one indexed query when
        # nothing changed), so a route or service changed a moment ago is the one used.
        await get_snapshot_store().refresh()
        now = time.perf_counter(), time.time()
        req = GatewayRequest(
            request_id=new_request_id(), api_key=None, body=dict(variables), received=now[0], received_wall=now[1]
        )
        events = get_invoker().run_version(
            req,
            tenant_id=spec.tenant_id,
            slug=spec.service_slug,
            version=_version_entry(spec),
            stream=stream,
            endpoint=endpoint,
        )
        async with aclosing(events):
            async for event in events:
                yield PromptRunDelta(event) if isinstance(event, str) else _result(event)

    def run_now(self, *, spec: PromptRunSpec, variables: Mapping[str, Any], endpoint: str) -> PromptRunResult:
        return asyncio.run(self._run_once(spec, variables, endpoint))

    async def _run_once(self, spec: PromptRunSpec, variables: Mapping[str, Any], endpoint: str) -> PromptRunResult:
        results = []
        try:
            async for event in self.run(spec=spec, variables=variables, stream=False, endpoint=endpoint):
                if isinstance(event, PromptRunResult):
                    results.append(event)
        finally:
            await get_invoker().end_of_loop()
        return results[-1]
