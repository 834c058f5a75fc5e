"""Where apps above the catalog take part in its writes without the catalog importing them (the layers allow
only downward imports). Each registers its callable once, in its AppConfig.ready():

- a creator for a kind of service that is born with content the catalog does not hold (the prompts app: a prompt
  API with its first prompt version), which service_create_of_kind calls;
- a reaction to a retirement (the access app closes the service's open subscriptions), run inside the retiring
  transaction, so that a failure leaves the service as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
