"""Writes of services: create, update, lifecycle transitions and sharing with other tenants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from apps.catalog.models import Lifecycle, OutputMode, Service, Tag, Visibility, tag_validator
from apps.catalog.selectors import route_list_for
from apps.catalog.services.base import audited, require_admin, save
from apps.catalog.services.ports import creator_for, run_retire_hooks
from apps.core.errors import ApplicationError, ConflictError
from apps.tenants.models import Membership, Tenant

MAX_TAGS = 20
EMBEDDING = "embedding"  # the modality (providers.Modality) of a model that embeds

# lifecycle → where it may go next; retired is final.
LIFECYCLE_TRANSITIONS: dict[str, set[str]] = {
    Lifecycle.DRAFT: {Lifecycle.PUBLISHED, Lifecycle.RETIRED},
    Lifecycle.PUBLISHED: {Lifecycle.DEPRECATED, Lifecycle.RETIRED},
    Lifecycle.DEPRECATED: {Lifecycle.PUBLISHED, Lifecycle.RETIRED},
    Lifecycle.RETIRED: set(),
}
LIFECYCLE_ACTIONS = {Lifecycle.PUBLISHED: "publish", Lifecycle.DEPRECATED: "deprecate", Lifecycle.RETIRED: "retire"}

UPDATABLE_FIELDS = {
    "name",
    "summary",
    "description",
    "team",
    "visibility",
    "approval_mode",
    "route",
    "input_schema",
    "output_mode",
    "output_schema",
    "expected_tokens_per_call",
    "capture_bodies_days",
    "cache_ttl_seconds",
    "semantic_cache",
    "semantic_cache_route",
    "semantic_cache_threshold",
}


def _checked_schema(schema: Any, *, field: str) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12, as OpenAPI 3.1 uses); None or {} accepts any value."""
    if schema is None:
        return {}
    if not isinstance(schema, dict):
        raise ApplicationError("A JSON Schema here must be a JSON object.", field=field)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ApplicationError(f"Not a valid JSON Schema: {exc.message}", field=field) from None
    return schema


def _check_io(service: Service) -> None:
    """The input is a JSON object (the invocation body); JSON output needs a schema to check the model's answer."""
    service.input_schema = _checked_schema(service.input_schema, field="input_schema")
    service.output_schema = _checked_schema(service.output_schema, field="output_schema")
    if "type" in service.input_schema and service.input_schema["type"] != "object":
        raise ApplicationError('The input of a service is a JSON object: use "type": "object".', field="input_schema")
    if service.output_mode == OutputMode.JSON and not service.output_schema:
        raise ApplicationError(
            "JSON output needs an output schema to check the answers against.", field="output_schema"
        )


def _check_route(route: models.Model, tenant: Tenant) -> None:
    if route.tenant_id != tenant.pk:
        raise ApplicationError("The route must be one of the service's tenant.", field="route")


def _check_semantic_route(service: Service) -> None:
    """A semantic cache embeds prompts with an embedding route of the service's own tenant."""
    if not service.semantic_cache or not service.semantic_cache_route:
        return  # full_clean() says what is missing
    route = route_list_for(tenant=service.tenant).filter(alias=service.semantic_cache_route).first()
    if route is None:
        raise ApplicationError(
            f"No route named {service.semantic_cache_route} in this tenant.", field="semantic_cache_route"
        )
    modalities = route.deployments.values_list("model__modalities", flat=True)
    if not any(EMBEDDING in (names or ()) for names in modalities):
        raise ApplicationError(
            f"The route {route.alias} serves no embedding model: choose a route whose models have the embedding "
            "modality.",
            field="semantic_cache_route",
        )


def _tags(names: Iterable[str]) -> list[Tag]:
    """Tags by name (trimmed, lowercased), created on first use."""
    if isinstance(names, str):
        raise ApplicationError("Tags are a list of names.", field="tags")
    wanted = sorted({str(name).strip().lower() for name in names})
    if len(wanted) > MAX_TAGS:
        raise ApplicationError(f"A service has at most {MAX_TAGS} tags.", field="tags")
    for name in wanted:
        try:
            tag_validator(name)
        except ValidationError:
            raise ApplicationError(f"{name!r}: {tag_validator.message}", field="tags") from None
    Tag.objects.bulk_create([Tag(name=name) for name in wanted], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=wanted))


def _share_targets(service: Service, tenants: Iterable[Tenant], *, field: str) -> list[Tenant]:
    targets = list({tenant.pk: tenant for tenant in tenants}.values())
    if any(tenant.pk == service.tenant_id for tenant in targets):
        raise ApplicationError("A service is always visible to its own tenant: share it with others.", field=field)
    return targets


@transaction.atomic
def service_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    slug: str,
    name: str,
    kind: str,
    route: models.Model,
    summary: str = "",
    description: str = "",
    team: str = "",
    tags: Iterable[str] = (),
    visibility: str,
    shared_with: Iterable[Tenant] = (),
    approval_mode: str,
    input_schema: dict[str, Any] | None = None,
    output_mode: str = OutputMode.TEXT,
    output_schema: dict[str, Any] | None = None,
    expected_tokens_per_call: int = 1000,
    capture_bodies_days: int = 0,
    cache_ttl_seconds: int | None = None,
    semantic_cache: bool = False,
    semantic_cache_route: str = "",
    semantic_cache_threshold: float = 0.95,
) -> Service:
    """A new service in draft, on a route (a providers.Route) of its tenant."""
    require_admin(actor_membership, tenant)
    _check_route(route, tenant)
    service = Service(
        tenant=tenant,
        slug=slug,
        name=name,
        kind=kind,
        route=route,
        summary=summary,
        description=description,
        team=team,
        visibility=visibility,
        approval_mode=approval_mode,
        input_schema=input_schema,
        output_mode=output_mode,
        output_schema=output_schema,
        expected_tokens_per_call=expected_tokens_per_call,
        capture_bodies_days=capture_bodies_days,
        cache_ttl_seconds=cache_ttl_seconds,
        semantic_cache=semantic_cache,
        semantic_cache_route=semantic_cache_route,
        semantic_cache_threshold=semantic_cache_threshold,
    )
    _check_io(service)
    _check_semantic_route(service)
    tag_rows = _tags(tags)
    targets = _share_targets(service, shared_with, field="shared_with")
    save(service, conflict_field="slug", conflict=f"A service with slug {slug!r} already exists.")
    service.tags.set(tag_rows)
    service.shared_with.set(targets)
    changes = {"kind": kind, "route": str(route), "visibility": visibility, "tags": [t.name for t in tag_rows]}
    audited("service.create", service, tenant=tenant, changes=changes)
    return service


def service_create_of_kind(*, kind: str, **fields: Any) -> Service:
    """A new service of `kind` through the creator its app registered (a prompt API: the prompts app, which takes
    the first version's templates and creates the service with service_create), else service_create."""
    creator = creator_for(kind)
    if creator is None:
        return service_create(kind=kind, **fields)
    return creator(**fields)


@transaction.atomic
def service_update(*, service: Service, actor_membership: Membership | None, data: dict[str, Any]) -> Service:
    """Change the fields of UPDATABLE_FIELDS given in `data`, `tags` and `shared_with` (whole lists). Slug and kind
    stay. Unlike service_share, the visibility is only what `data` says: the list is kept for when it is shared."""
    require_admin(actor_membership, service.tenant)
    fields = {name: value for name, value in data.items() if name in UPDATABLE_FIELDS}
    if "route" in fields:
        _check_route(fields["route"], service.tenant)
    changes: dict[str, Any] = {
        name: [getattr(service, name), value] for name, value in fields.items() if getattr(service, name) != value
    }
    for name, (_, value) in changes.items():
        setattr(service, name, value)
    _check_io(service)
    _check_semantic_route(service)
    if "tags" in data:
        before = sorted(tag.name for tag in service.tags.all())
        tag_rows = _tags(data["tags"])
        after = sorted(tag.name for tag in tag_rows)
        if before != after:
            service.tags.set(tag_rows)
            changes["tags"] = [before, after]
    if "shared_with" in data:
        _update_shared_with(service, data["shared_with"], changes)
    if changes:
        save(service, conflict_field="slug", conflict="Conflicting service.")
        audited("service.update", service, tenant=service.tenant, changes=changes)
    return service


def service_lifecycle_moves(*, service: Service) -> list[str]:
    """Where the service may go next from its lifecycle (the pages offer exactly these moves)."""
    return [lifecycle for lifecycle in LIFECYCLE_ACTIONS if lifecycle in LIFECYCLE_TRANSITIONS[service.lifecycle]]


def _update_shared_with(service: Service, tenants: Iterable[Tenant], changes: dict[str, Any]) -> None:
    targets = _share_targets(service, tenants, field="shared_with")
    before = sorted(tenant.slug for tenant in service.shared_with.all())
    after = sorted(tenant.slug for tenant in targets)
    if before != after:
        service.shared_with.set(targets)
        changes["shared_with"] = [before, after]


def _checked_sunset(lifecycle: str, sunset_on: date | None) -> date | None:
    """A sunset date goes with a deprecation only, and lies ahead (the day the callers are told to move by)."""
    if sunset_on is None:
        return None
    if lifecycle != Lifecycle.DEPRECATED:
        raise ApplicationError("Only a deprecation takes a sunset date.", field="sunset_on")
    if sunset_on <= timezone.localdate():
        raise ApplicationError("The sunset date must be after today.", field="sunset_on")
    return sunset_on


@transaction.atomic
def service_set_lifecycle(
    *, service: Service, actor_membership: Membership | None, lifecycle: str, sunset_on: date | None = None
) -> Service:
    """Move along draft → published ⇄ deprecated, or to retired (final). Publishing stamps published_at once and
    clears a sunset date; deprecating sets the sunset date given (None: not announced yet). Retiring runs the
    retire hooks in this transaction: the access app closes the service's open subscriptions and tells their
    requesters."""
    require_admin(actor_membership, service.tenant)
    # Read under a row lock: of two concurrent transitions, the second sees where the first left the service.
    current, current_sunset = (
        Service.objects.select_for_update().values_list("lifecycle", "sunset_on").get(pk=service.pk)
    )
    if lifecycle not in LIFECYCLE_TRANSITIONS[current]:
        allowed = ", ".join(sorted(LIFECYCLE_TRANSITIONS[current])) or "nothing: retired is final"
        raise ConflictError(
            f"A {current} service cannot become {lifecycle}; it can become {allowed}.", field="lifecycle"
        )
    sunset_on = _checked_sunset(lifecycle, sunset_on)
    changes: dict[str, Any] = {"lifecycle": [current, lifecycle]}
    # A retired service keeps the date its retirement was announced for.
    service.sunset_on = current_sunset if lifecycle == Lifecycle.RETIRED else sunset_on
    if service.sunset_on != current_sunset:
        changes["sunset_on"] = [current_sunset, service.sunset_on]
    service.lifecycle = lifecycle
    if lifecycle == Lifecycle.PUBLISHED and service.published_at is None:
        service.published_at = timezone.now()
    service.save(update_fields=["lifecycle", "published_at", "sunset_on", "updated_at"])
    action = f"service.{LIFECYCLE_ACTIONS[lifecycle]}"
    audited(action, service, tenant=service.tenant, changes=changes)
    if lifecycle == Lifecycle.RETIRED:
        run_retire_hooks(service=service, actor_membership=actor_membership)
    return service


@transaction.atomic
def service_share(*, service: Service, actor_membership: Membership | None, tenants: Iterable[Tenant]) -> Service:
    """Share with exactly these tenants (replacing the previous list). Sharing a private service with anyone makes
    it `shared`; a public service stays public (the list matters if it becomes shared later)."""
    require_admin(actor_membership, service.tenant)
    targets = _share_targets(service, tenants, field="tenants")
    before = sorted(tenant.slug for tenant in service.shared_with.all())
    service.shared_with.set(targets)
    changes: dict[str, Any] = {"shared_with": [before, sorted(tenant.slug for tenant in targets)]}
    if targets and service.visibility == Visibility.PRIVATE:
        changes["visibility"] = [service.visibility, Visibility.SHARED]
        service.visibility = Visibility.SHARED
        service.save(update_fields=["visibility", "updated_at"])
    audited("service.share", service, tenant=service.tenant, changes=changes)
    return service
