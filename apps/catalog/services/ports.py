"""Where apps above the catalog take part in its writes without the catalog importing them (the layers allow
only downward imports). Each registers its callable once, in its AppConfig.ready():

- a creator for a kind of service that is born with content the catalog does not hold (the prompts app: a prompt
  API with its first prompt version), which service_create_of_kind calls;
- a reaction to a retirement (the access app closes the service's open subscriptions), run inside the retiring
  transaction, so that a failure leaves the service as it was.

And where the catalog's try-it panel reaches the data plane, which the control plane never imports: the gateway
registers a ServiceTrier that runs one call through the real data-plane path as a given app: a prompt API's
invocation, or a model API's chat completion."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.catalog.models import Service
from apps.tenants.models import Membership

ServiceCreator = Callable[..., Service]
RetireHook = Callable[..., Any]  # (*, service: Service, actor_membership: Membership | None)

_creators: dict[str, ServiceCreator] = {}
_retire_hooks: list[RetireHook] = []


def service_creator_register(*, kind: str, creator: ServiceCreator) -> None:
    _creators[kind] = creator


def service_retire_hook_register(hook: RetireHook) -> None:
    if hook not in _retire_hooks:
        _retire_hooks.append(hook)


def creator_for(kind: str) -> ServiceCreator | None:
    return _creators.get(kind)


def run_retire_hooks(*, service: Service, actor_membership: Membership | None) -> None:
    for hook in _retire_hooks:
        hook(service=service, actor_membership=actor_membership)


@dataclass(frozen=True)
class TryItCall:
    """One call of a service as an app, for a person whose session may act for that app (no key: the view checked
    the person). Plain data, so the data plane needs no model instance. `body` is the invocation's input, or for a
    model API the chat completion request (its "model" names the service as the app calls it)."""

    tenant_id: int
    tenant_slug: str
    app_id: int
    app_slug: str
    service_slug: str
    body: Any


@dataclass(frozen=True)
class TryItResult:
    """The answer as the app would see it: status, JSON body (the answer or the error envelope) and headers, with
    the gateway's latency and, for a refused input, the problem of each field (an invocation's schema errors by
    path; a chat completion's 400 at the parameter it names)."""

    status: int
    body: Any
    headers: Mapping[str, str]
    latency_ms: float
    field_errors: Mapping[str, str] = field(default_factory=dict)


class ServiceTrier(Protocol):
    def __call__(self, call: TryItCall) -> TryItResult:
        """From synchronous code: the invocation on an event loop of its own, recorded in the call log."""

    def chat(self, call: TryItCall) -> TryItResult:
        """The same for a model API: one chat completion, not streamed, through the /v1 path."""


_trier: ServiceTrier | None = None


def service_trier_register(trier: ServiceTrier) -> None:
    global _trier  # set once, when the gateway app is ready
    _trier = trier


def service_trier() -> ServiceTrier:
    if _trier is None:
        raise RuntimeError("No service trier is registered: the gateway app registers one when it is ready.")
    return _trier
