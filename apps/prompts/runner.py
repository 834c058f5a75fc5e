"""The port through which the prompt workbench runs a version against its real route (playground, test runs).

The control plane never imports the gateway (the layering of pyproject.toml's import-linter contracts): the
gateway registers its implementation here when it starts (apps/gateway/apps.py), and the workbench asks for it
with `prompt_runner()`. What crosses the port is plain data (no model instances), so the implementation can run on
the data plane's event loop without touching the ORM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

PLAYGROUND = "playground"  # the call log's endpoint of each kind of run
TEST_RUN = "test_run"


@dataclass(frozen=True)
class PromptRunSpec:
    """A version to run (a draft or any other), for the tenant of the person who runs it."""

    tenant_id: int  # the person's tenant: the call is recorded as its call
    service_id: int
    service_slug: str
    number: int
    system_template: str
    user_template: str
    examples: tuple[Mapping[str, str], ...]
    parameters: Mapping[str, Any]
    variables_schema: Mapping[str, Any]


@dataclass(frozen=True)
class PromptRunDelta:
    """A piece of the output, as it streams."""

    text: str


@dataclass(frozen=True)
class PromptRunResult:
    """How a run ended: the output (text; JSON services: the JSON text) or why there is none, and what it cost."""

    request_id: str
    output: str = ""
    error: str = ""  # empty when the model answered
    error_code: str = ""
    status: int = 200
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)

    @property
    def ok(self) -> bool:
        return not self.error


class PromptRunner(Protocol):
    def run(
        self, *, spec: PromptRunSpec, variables: Mapping[str, Any], stream: bool, endpoint: str
    ) -> AsyncIterator[PromptRunDelta | PromptRunResult]:
        """On the caller's event loop: the deltas (when streaming), then exactly one PromptRunResult. Recorded in
        the call log under `endpoint`, as a call of spec.tenant_id without an app."""

    def run_now(self, *, spec: PromptRunSpec, variables: Mapping[str, Any], endpoint: str) -> PromptRunResult:
        """From synchronous code (a Celery task): one run on an event loop of its own, its call record written
        and its upstream connections closed before it returns."""


_runner: PromptRunner | None = None


def prompt_runner_register(runner: PromptRunner) -> None:
    global _runner  # set once, when the gateway app is ready
    _runner = runner


def prompt_runner() -> PromptRunner:
    if _runner is None:
        raise RuntimeError("No prompt runner is registered: the gateway app registers one when it is ready.")
    return _runner
