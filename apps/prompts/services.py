"""Writing prompts: new immutable versions, which one is live, A/B splits. `actor_membership`/`author` None is a
trusted caller (seed, gitops); otherwise apps.prompts.permissions decides who writes versions and test cases and who
decides what serves traffic (a tenant role, or the change-prompt right on the service)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from apps.catalog.models import Service, ServiceKind
from apps.catalog.services import service_create, service_manage_allowed
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.prompts.checks import checks_clean
from apps.prompts.models import PromptTemplate, PromptTestCase, PromptTestRun, PromptVersion, StickyBy
from apps.prompts.permissions import require_edit_prompt, require_publish_prompt
from apps.prompts.rendering import template_variables
from apps.prompts.validation import validate_version
from apps.providers.models import Route
from apps.tenants.models import Membership, Tenant

MIN_SPLIT_ENTRIES = 2
MAX_TEST_CASES = 100  # per prompt: a run calls the model once per case


def _locked(template: PromptTemplate) -> PromptTemplate:
    """The template re-read under a row lock: concurrent writers of one prompt queue up behind each other."""
    return (
        PromptTemplate.objects.select_for_update(of=("self",))
        .select_related("service", "service__tenant", "live_version")
        .get(pk=template.pk)
    )


def _version_add(
    template: PromptTemplate, *, author: Membership | None, content: dict[str, Any], change_note: str
) -> PromptVersion:
    """Version max+1 of a locked template, with content already validated."""
    latest = template.versions.aggregate(latest=Max("number"))["latest"] or 0
    version = PromptVersion(
        template=template,
        number=latest + 1,
        change_note=change_note,
        author=author.user if author is not None else None,
        **content,
    )
    try:
        version.full_clean(validate_constraints=False)
    except ValidationError as exc:
        name, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=name) from None
    version.save()
    return version


@transaction.atomic
def prompt_service_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    slug: str,
    name: str,
    route: Route,
    system_template: str,
    user_template: str,
    variables_schema: dict[str, Any],
    examples: Sequence[Mapping[str, str]] = (),
    parameters: dict[str, Any] | None = None,
    output_mode: str = "text",
    output_schema: dict[str, Any] | None = None,
    change_note: str = "",
    **service_fields: Any,
) -> Service:
    """A prompt API in one step (owners and admins): the catalog service (its input schema is the variables schema),
    its prompt and version 1, live. Any refusal names the field and leaves nothing behind."""
    # The catalog's rule, checked before the content so that a refusal comes first.
    if actor_membership is not None and not service_manage_allowed(membership=actor_membership, tenant=tenant):
        raise NotPermitted("Only owners and admins create services.")
    content = validate_version(
        system_template=system_template,
        user_template=user_template,
        variables_schema=variables_schema,
        examples=examples,
        parameters=parameters,
    )
    service = service_create(
        tenant=tenant,
        actor_membership=actor_membership,
        slug=slug,
        name=name,
        kind=ServiceKind.PROMPT,
        route=route,
        input_schema=content["variables_schema"],
        output_mode=output_mode,
        output_schema=output_schema,
        **service_fields,
    )
    template = PromptTemplate.objects.create(service=service)
    template.live_version = _version_add(template, author=actor_membership, content=content, change_note=change_note)
    template.save(update_fields=["live_version", "updated_at"])
    audit_record(action="prompt.create", obj=template, tenant=tenant, changes={"live_version": 1})
    config_version_bump()
    return service


@transaction.atomic
def prompt_version_create(
    *,
    template: PromptTemplate,
    author: Membership | None,
    system_template: str,
    user_template: str,
    variables_schema: dict[str, Any],
    examples: Sequence[Mapping[str, str]] = (),
    parameters: dict[str, Any] | None = None,
    change_note: str = "",
) -> PromptVersion:
    """The next version of a prompt (not live until published): for those who may edit it."""
    tenant = template.service.tenant
    require_edit_prompt(membership=author, service=template.service)
    content = validate_version(
        system_template=system_template,
        user_template=user_template,
        variables_schema=variables_schema,
        examples=examples,
        parameters=parameters,
    )
    version = _version_add(_locked(template), author=author, content=content, change_note=change_note)
    audit_record(
        action="prompt_version.create",
        obj=version,
        tenant=tenant,
        changes={"number": version.number, "note": change_note},
    )
    return version


def _existing_version(template: PromptTemplate, number: int, *, field: str) -> PromptVersion:
    version = template.versions.filter(number=number).first()
    if version is None:
        raise ApplicationError(f"This prompt has no version {number}.", field=field)
    return version


def _make_live(template: PromptTemplate, version: PromptVersion, *, action: str) -> PromptTemplate:
    """Serve `version` to everyone: clears the A/B split and aligns the service's input schema with it."""
    old_live = template.live_version.number if template.live_version else None
    changes = {"live_version": [old_live, version.number], "ab_split": [template.ab_split, []]}
    template.live_version, template.ab_split = version, []
    template.save(update_fields=["live_version", "ab_split", "updated_at"])
    service = template.service
    if service.input_schema != version.variables_schema:
        service.input_schema = version.variables_schema
        service.save(update_fields=["input_schema", "updated_at"])
    audit_record(action=action, obj=template, tenant=service.tenant, changes=changes)
    config_version_bump()
    return template


@transaction.atomic
def prompt_version_publish(
    *, template: PromptTemplate, version_number: int, actor_membership: Membership | None
) -> PromptTemplate:
    """Make a version live; any A/B split ends."""
    require_publish_prompt(membership=actor_membership, service=template.service)
    template = _locked(template)
    version = _existing_version(template, version_number, field="version")
    return _make_live(template, version, action="prompt.publish")


@transaction.atomic
def prompt_rollback(
    *, template: PromptTemplate, version_number: int, actor_membership: Membership | None
) -> PromptTemplate:
    """Put an earlier version back live in one step; any A/B split ends."""
    require_publish_prompt(membership=actor_membership, service=template.service)
    template = _locked(template)
    version = _existing_version(template, version_number, field="version")
    live = template.live_version
    if live is not None and version.number >= live.number:
        raise ApplicationError(
            f"Roll back to a version older than the live one (v{live.number}); publish newer ones.", field="version"
        )
    return _make_live(template, version, action="prompt.rollback")


def _split_entry(entry: Any) -> tuple[int, int]:
    if not isinstance(entry, Mapping) or set(entry) != {"version", "weight"}:
        raise ApplicationError('Each split entry is {"version": <number>, "weight": <integer>}.', field="split")
    version, weight = entry["version"], entry["weight"]
    if any(isinstance(value, bool) or not isinstance(value, int) for value in (version, weight)):
        raise ApplicationError("Split versions and weights are integers.", field="split")
    if weight <= 0:
        raise ApplicationError(f"The weight of version {version} must be a positive integer.", field="split")
    return version, weight


def _clean_split(template: PromptTemplate, split: Any) -> list[dict[str, int]]:
    """The split as stored: at least two distinct existing versions whose templates only use variables the live
    version declares (callers are validated against the live version's schema), or empty."""
    if not isinstance(split, list | tuple):
        raise ApplicationError("The split is a list of versions and weights.", field="split")
    if not split:
        return []
    if len(split) < MIN_SPLIT_ENTRIES:
        raise ApplicationError("An A/B split needs at least two versions (or none, to clear it).", field="split")
    if template.live_version is None:
        raise ApplicationError("Publish a version before splitting traffic.", field="split")
    entries = [_split_entry(entry) for entry in split]
    numbers = [version for version, _ in entries]
    if len(set(numbers)) != len(numbers):
        raise ApplicationError("Each version may appear once in a split.", field="split")
    versions = {v.number: v for v in template.versions.filter(number__in=numbers)}
    declared = set(template.live_version.variables_schema.get("properties", {}))
    for number in numbers:
        if number not in versions:
            raise ApplicationError(f"This prompt has no version {number}.", field="split")
        version = versions[number]
        used = template_variables(version.system_template, field="split") | template_variables(
            version.user_template, field="split"
        )
        if undeclared := ", ".join(sorted(used - declared)):
            raise ApplicationError(
                f"Version {number} uses variables the live version does not declare: {undeclared}.", field="split"
            )
    return [{"version": version, "weight": weight} for version, weight in entries]


@transaction.atomic
def prompt_ab_set(
    *, template: PromptTemplate, split: Sequence[Mapping[str, int]], sticky_by: str, actor_membership: Membership | None
) -> PromptTemplate:
    """Split traffic across versions by weight, sticky per app or per conversation; an empty split clears it."""
    require_publish_prompt(membership=actor_membership, service=template.service)
    if sticky_by not in StickyBy.values:
        raise ApplicationError(f"sticky_by is one of: {', '.join(StickyBy.values)}.", field="sticky_by")
    template = _locked(template)
    changes = model_diff(template, {"ab_split": _clean_split(template, split), "sticky_by": sticky_by})
    if changes:
        for field, (_, new) in changes.items():
            setattr(template, field, new)
        template.save(update_fields=[*changes, "updated_at"])
        audit_record(action="prompt.ab_set", obj=template, tenant=template.service.tenant, changes=changes)
        config_version_bump()
    return template


# Test cases: those who may edit the prompt write them and start runs, as they write versions.


def _test_case_content(template: PromptTemplate, *, name: str, variables: Any, checks: Any) -> dict[str, Any]:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ApplicationError("A test case needs a name.", field="name")
    if not isinstance(variables, Mapping):
        raise ApplicationError('The variables are a JSON object, such as {"text": "…"}.', field="variables")
    return {
        "name": name,
        "variables": dict(variables),
        "checks": checks_clean(checks, output_schema=template.service.output_schema),
    }


def _save_test_case(case: PromptTestCase) -> PromptTestCase:
    taken = PromptTestCase.objects.filter(template=case.template, name=case.name).exclude(pk=case.pk)
    if taken.exists():
        raise ConflictError(f"This prompt already has a test case named {case.name!r}.", field="name")
    try:
        case.full_clean(validate_constraints=False)
    except ValidationError as exc:
        name, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=name) from None
    case.save()
    return case


@transaction.atomic
def prompt_test_case_create(
    *, template: PromptTemplate, actor_membership: Membership | None, name: str, variables: Any, checks: Any
) -> PromptTestCase:
    """A test case of a prompt: variables to render it with and checks its output must pass."""
    require_edit_prompt(membership=actor_membership, service=template.service)
    template = _locked(template)  # two people adding cases at once cannot both pass the count or the name check
    if template.test_cases.count() >= MAX_TEST_CASES:
        raise ApplicationError(f"A prompt has at most {MAX_TEST_CASES} test cases.", field="name")
    content = _test_case_content(template, name=name, variables=variables, checks=checks)
    case = _save_test_case(PromptTestCase(template=template, **content))
    audit_record(action="prompt_test_case.create", obj=case, tenant=template.service.tenant, changes=content)
    return case


@transaction.atomic
def prompt_test_case_update(
    *, case: PromptTestCase, actor_membership: Membership | None, **fields: Any
) -> PromptTestCase:
    """Change a case's name, variables or checks (those given)."""
    template = case.template
    require_edit_prompt(membership=actor_membership, service=template.service)
    unknown = set(fields) - {"name", "variables", "checks"}
    if unknown:
        raise ApplicationError(f"A test case has no field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    current = {"name": case.name, "variables": case.variables, "checks": case.checks}
    content = _test_case_content(template, **{**current, **fields})
    changes = model_diff(case, content)
    if changes:
        for field, (_, new) in changes.items():
            setattr(case, field, new)
        _save_test_case(case)
        audit_record(action="prompt_test_case.update", obj=case, tenant=template.service.tenant, changes=changes)
    return case


@transaction.atomic
def prompt_test_case_delete(*, case: PromptTestCase, actor_membership: Membership | None) -> None:
    """Delete a case; the results it had in earlier runs stay, under its name."""
    template = case.template
    require_edit_prompt(membership=actor_membership, service=template.service)
    audit_record(
        action="prompt_test_case.delete", obj=case, tenant=template.service.tenant, changes={"name": case.name}
    )
    case.delete()


@transaction.atomic
def prompt_test_run_start(*, version: PromptVersion, actor_membership: Membership | None) -> PromptTestRun:
    """Queue a run of every test case of the prompt against `version` (a draft or any other). The run goes on in
    a Celery task (eager on the embedded default); its results appear as each case finishes."""
    template = version.template
    require_edit_prompt(membership=actor_membership, service=template.service)
    total = template.test_cases.count()
    if not total:
        raise ApplicationError("This prompt has no test cases yet: add one, then run them.", field="version")
    run = PromptTestRun.objects.create(
        version=version, started_by=actor_membership.user if actor_membership else None, total=total
    )
    audit_record(
        action="prompt_test_run.start", obj=run, tenant=template.service.tenant, changes={"version": version.number}
    )
    from apps.prompts.tasks import prompt_test_run_task  # the task calls back into the services

    transaction.on_commit(lambda: prompt_test_run_task.delay(run.pk))
    return run
